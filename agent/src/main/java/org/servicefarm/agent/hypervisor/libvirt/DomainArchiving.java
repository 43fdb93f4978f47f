package org.servicefarm.agent.hypervisor.libvirt;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.servicefarm.agent.hypervisor.DomainSpec;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.agent.hypervisor.HypervisorException.Kind;
import org.servicefarm.agent.hypervisor.HypervisorKind;
import org.servicefarm.agent.hypervisor.storage.DiskStore;
import org.servicefarm.agent.images.HostDiskSpace;
import org.servicefarm.agent.hypervisor.storage.PreparedDisk;
import org.servicefarm.agent.hypervisor.storage.VmArchives;
import org.servicefarm.agent.images.BlobDigest;
import org.servicefarm.agent.images.ImageException;
import org.servicefarm.api.v1.PortForward;
import org.servicefarm.diskimage.DiskImageHeader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What an archive holds and how a VM comes back from it. A QEMU VM's archive is its gzipped
 * overlay: restored on any host, the overlay is pointed at that host's cached copy of the base.
 * A test-driver VM has no disk worth keeping, so its archive is its gzipped farm metadata, which
 * also lets restore check that the archive is the VM's and keep its host ports where it can.
 */
final class DomainArchiving {

  private static final Logger log = LoggerFactory.getLogger(DomainArchiving.class);

  private final HypervisorKind kind;
  private final DiskStore disks;
  private final VmArchives archives;

  DomainArchiving(HypervisorKind kind, DiskStore disks, VmArchives archives) {
    this.kind = kind;
    this.disks = disks;
    this.archives = archives;
  }

  /**
   * What a restore brings back. Closing it releases the cached blobs the disk depends on, which
   * the caller does once the domain recording them is defined.
   */
  record Restored(PreparedDisk disk, long generation, List<Integer> guestPorts,
      Map<Integer, Integer> previousHostPorts) implements AutoCloseable {
    @Override
    public void close() {
      disk.close();
    }
  }

  /** Uploads the stopped VM's archive; returns its reference. */
  String upload(DomainMetadata metadata) throws HypervisorException {
    String vmId = metadata.vmId();
    try {
      if (!kind.runsQemu()) {
        return archives.upload(vmId, DomainMetadataXml.toElementXml(metadata));
      }
      Path disk = disks.diskPath(vmId);
      if (!Files.isRegularFile(disk)) {
        throw new HypervisorException(Kind.HYPERVISOR,
            "archive of vm " + vmId + " failed: its disk " + disk + " is missing");
      }
      return archives.upload(vmId, disk);
    } catch (ImageException e) {
      throw new HypervisorException(Kind.IMAGE,
          "archive of vm " + vmId + " failed: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new HypervisorException(HostDiskSpace.isNoSpace(e) ? Kind.NO_SPACE : Kind.HYPERVISOR,
          "archive of vm " + vmId + " failed: compressing it on this host: " + e, e);
    }
  }

  /** The reference an earlier archive of the VM from this host answered, if still remembered. */
  Optional<String> uploadedRef(String vmId) throws HypervisorException {
    try {
      return archives.uploadedRef(vmId);
    } catch (IOException e) {
      throw new HypervisorException(Kind.HYPERVISOR,
          "reading the archive reference of vm " + vmId + " failed: " + e, e);
    }
  }

  /** Fetches the archive and makes the VM's disk from it; the domain is not defined yet. */
  Restored restore(String archiveRef, DomainSpec spec) throws HypervisorException {
    String vmId = spec.vmId();
    if (kind.runsQemu()) {
      // A restore repeated after its disk was moved into place finds that disk: it is the
      // archive's, and never replaced (see DiskStore#prepare).
      Optional<PreparedDisk> kept = LibvirtHypervisor.storage("restore", vmId,
          () -> disks.existing(vmId, spec.image(), spec.progress()));
      if (kept.isPresent()) {
        log.info("vm {}: restoring onto its disk {}, already on this host", vmId,
            kept.get().disk());
        return new Restored(kept.get(), spec.generation(), spec.guestPorts(), Map.of());
      }
    }
    BlobDigest archive;
    try {
      archive = BlobDigest.fromArchiveRef(archiveRef);
    } catch (IllegalArgumentException e) {
      throw new HypervisorException(Kind.INVALID,
          "restore of vm " + vmId + " failed: " + e.getMessage(), e);
    }
    Path unpacked;
    try {
      // Bounded by the disk a VM of this image has: the archive may come from any host.
      long diskBytes = LibvirtHypervisor.storage("restore", vmId,
          () -> disks.diskBytes(spec.image(), spec.progress()));
      unpacked = archives.download(vmId, archive, DiskImageHeader.largestFileFor(diskBytes));
    } catch (ImageException e) {
      throw new HypervisorException(Kind.IMAGE,
          "restore of vm " + vmId + " failed: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new HypervisorException(HostDiskSpace.isNoSpace(e) ? Kind.NO_SPACE : Kind.HYPERVISOR,
          "restore of vm " + vmId + " failed: unpacking archive " + archiveRef
              + " on this host: " + e, e);
    }
    try {
      if (kind.runsQemu()) {
        PreparedDisk disk = LibvirtHypervisor.storage("restore", vmId,
            () -> disks.adopt(vmId, spec.image(), unpacked, spec.progress()));
        return new Restored(disk, spec.generation(), spec.guestPorts(), Map.of());
      }
      DomainMetadata archived = archivedMetadata(unpacked, archiveRef, vmId);
      Map<Integer, Integer> previousHostPorts = new HashMap<>();
      for (PortForward forward : archived.ports()) {
        previousHostPorts.put(forward.getGuestPort(), forward.getHostPort());
      }
      List<Integer> guestPorts = spec.guestPorts().isEmpty()
          ? archived.ports().stream().map(PortForward::getGuestPort).toList()
          : spec.guestPorts();
      PreparedDisk disk = LibvirtHypervisor.storage("restore", vmId,
          () -> disks.prepare(vmId, spec.image(), spec.progress()));
      return new Restored(disk, Math.max(spec.generation(), archived.generation()), guestPorts,
          previousHostPorts);
    } finally {
      deleteLeftover(unpacked);
    }
  }

  /** Removes the VM's disk and console log from this host. */
  void removeLocalFiles(String vmId) throws HypervisorException {
    try {
      disks.remove(vmId);
    } catch (IOException e) {
      throw new HypervisorException(Kind.HYPERVISOR,
          "removing the disk or console log of vm " + vmId + " failed: " + e, e);
    }
  }

  /** Forgets the VM's archive reference and removes any download or upload left on this host. */
  void forget(String vmId) throws HypervisorException {
    try {
      archives.forget(vmId);
    } catch (IOException e) {
      throw new HypervisorException(Kind.HYPERVISOR,
          "removing the archive leftovers of vm " + vmId + " failed: " + e, e);
    }
  }

  private static DomainMetadata archivedMetadata(Path unpacked, String archiveRef, String vmId)
      throws HypervisorException {
    DomainMetadata archived;
    try {
      archived = DomainMetadataXml.fromElementXml(Files.readString(unpacked));
    } catch (IOException | MalformedMetadataException e) {
      throw new HypervisorException(Kind.IMAGE, "restore of vm " + vmId + " failed: archive "
          + archiveRef + " holds no readable farm metadata: " + e.getMessage(), e);
    }
    if (!archived.vmId().equals(vmId)) {
      throw new HypervisorException(Kind.INVALID, "restore of vm " + vmId + " failed: archive "
          + archiveRef + " holds vm " + archived.vmId());
    }
    return archived;
  }

  private static void deleteLeftover(Path unpacked) {
    try {
      Files.deleteIfExists(unpacked); // a QEMU disk store moved it into place on success
    } catch (IOException e) {
      log.warn("could not delete the unpacked archive {}: {}", unpacked, e.toString());
    }
  }
}
