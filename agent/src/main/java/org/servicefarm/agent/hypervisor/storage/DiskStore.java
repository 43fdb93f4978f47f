package org.servicefarm.agent.hypervisor.storage;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.agent.images.TransferProgress;
import org.servicefarm.api.v1.ImageRef;

/**
 * Where a host's VM disks (and console logs) live and how they come to exist: named paths only
 * for libvirt's test driver ({@link PathOnlyDiskStore}), qcow2 overlays on cached base images for
 * QEMU ({@link QemuDiskStore}).
 *
 * <p>Failures name what failed but not the VM or the command; the caller adds those.
 */
public interface DiskStore {

  /** The VM's disk file, whether or not it exists yet. */
  Path diskPath(String vmId);

  /** Where the VM's serial console is written. */
  Path consoleLogPath(String vmId);

  /**
   * Makes a new disk for the VM from the image. Refuses (naming the file) when the VM already
   * has a disk: a VM's disk holds its data, and only delete, archive and a stateless reinstall
   * may drop it, never a new disk laid over it.
   */
  PreparedDisk prepare(String vmId, ImageRef image) throws HypervisorException;

  /** {@link #prepare(String, ImageRef)}, telling {@code progress} how fetching images goes. */
  default PreparedDisk prepare(String vmId, ImageRef image, TransferProgress progress)
      throws HypervisorException {
    return prepare(vmId, image); // a store that fetches nothing has nothing to tell
  }

  /**
   * The VM's disk as it is on this host, ready for a domain defined on it again (its base image
   * fetched again if the cache lost it), or empty when the host has no disk for the VM.
   */
  Optional<PreparedDisk> existing(String vmId, ImageRef image, TransferProgress progress)
      throws HypervisorException;

  /**
   * Makes a disk brought back from an archive the VM's disk, pointing it at this host's copy of
   * the base image it was made from.
   */
  PreparedDisk adopt(String vmId, ImageRef image, Path restoredDisk) throws HypervisorException;

  /** {@link #adopt(String, ImageRef, Path)}, telling {@code progress} how fetching images goes. */
  default PreparedDisk adopt(String vmId, ImageRef image, Path restoredDisk,
      TransferProgress progress) throws HypervisorException {
    return adopt(vmId, image, restoredDisk);
  }

  /**
   * The size of a VM's disk on the image (its virtual size), from which an archive of such a VM
   * is bounded: it may unpack to no more than a disk of this size needs, and declare no larger
   * disk. The image is fetched when missing.
   */
  long diskBytes(ImageRef image, TransferProgress progress) throws HypervisorException;

  /** Removes the VM's disk and console log; files that do not exist are fine. */
  void remove(String vmId) throws IOException;

  /** Digests of the blobs this host has cached. */
  List<String> cachedImages() throws IOException;

  /**
   * Whether the cached blobs exceed the cache's bound: only then is it worth listing the domains'
   * blobs for {@link #trimCache}.
   */
  boolean cacheOverBound() throws IOException;

  /** Evicts cached blobs beyond the cache's bound, keeping those in {@code inUse}. */
  void trimCache(Set<String> inUse) throws IOException;
}
