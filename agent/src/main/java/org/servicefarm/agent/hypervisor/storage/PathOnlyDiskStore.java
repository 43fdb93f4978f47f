package org.servicefarm.agent.hypervisor.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.agent.images.TransferProgress;
import org.servicefarm.api.v1.ImageRef;

/**
 * Names each VM's disk ({@code <state-dir>/disks/<vmId>.qcow2}) without creating it: enough for
 * libvirt's test driver, which never opens disks, and so it needs no image cache either. Disks
 * that do exist there are still removed on delete.
 */
public final class PathOnlyDiskStore implements DiskStore {

  private final Path disksDir;
  private final Path consoleDir;

  public PathOnlyDiskStore(Path stateDir) {
    this.disksDir = stateDir.resolve("disks");
    this.consoleDir = stateDir.resolve("console");
  }

  @Override
  public Path diskPath(String vmId) {
    return disksDir.resolve(vmId + ".qcow2");
  }

  @Override
  public Path consoleLogPath(String vmId) {
    return consoleDir.resolve(vmId + ".log");
  }

  @Override
  public PreparedDisk prepare(String vmId, ImageRef image) {
    return PreparedDisk.standalone(diskPath(vmId)); // nothing to create: see the class comment
  }

  /** The test driver keeps nothing on a disk, so there is always one to define a domain on. */
  @Override
  public Optional<PreparedDisk> existing(String vmId, ImageRef image, TransferProgress progress) {
    return Optional.of(PreparedDisk.standalone(diskPath(vmId)));
  }

  @Override
  public PreparedDisk adopt(String vmId, ImageRef image, Path restoredDisk)
      throws HypervisorException {
    try {
      Files.createDirectories(disksDir);
      Files.move(restoredDisk, diskPath(vmId), StandardCopyOption.REPLACE_EXISTING);
      return PreparedDisk.standalone(diskPath(vmId));
    } catch (IOException e) {
      throw new HypervisorException(HypervisorException.Kind.HYPERVISOR,
          "moving the restored disk to " + diskPath(vmId) + ": " + e, e);
    }
  }

  /** A simulated VM's archive holds its metadata only: a few KiB. */
  static final long SIMULATED_DISK_BYTES = 1L << 20;

  @Override
  public long diskBytes(ImageRef image, TransferProgress progress) {
    return SIMULATED_DISK_BYTES;
  }

  @Override
  public void remove(String vmId) throws IOException {
    Files.deleteIfExists(diskPath(vmId));
    Files.deleteIfExists(consoleLogPath(vmId));
  }

  @Override
  public List<String> cachedImages() {
    return List.of();
  }

  @Override
  public boolean cacheOverBound() {
    return false;
  }

  @Override
  public void trimCache(Set<String> inUse) {
    // No cache to trim.
  }
}
