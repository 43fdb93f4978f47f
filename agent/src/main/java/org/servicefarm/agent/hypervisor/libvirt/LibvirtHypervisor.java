package org.servicefarm.agent.hypervisor.libvirt;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.libvirt.Domain;
import org.libvirt.DomainInfo.DomainState;
import org.libvirt.LibvirtException;
import org.libvirt.NodeInfo;
import org.servicefarm.agent.hypervisor.DomainSpec;
import org.servicefarm.agent.hypervisor.Hypervisor;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.agent.hypervisor.HypervisorKind;
import org.servicefarm.agent.hypervisor.NodeResources;
import org.servicefarm.agent.hypervisor.storage.ArchiveStore;
import org.servicefarm.agent.hypervisor.storage.ArchiveStore.ArchivedVm;
import org.servicefarm.agent.hypervisor.storage.DiskStore;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.PortForward;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * VM lifecycle on libvirt, over the farm domains {@link FarmDomains} finds. Each operation first
 * looks at the domain's state and only asks libvirt for a change when one is needed, which is
 * what makes repeated commands harmless.
 */
public final class LibvirtHypervisor implements Hypervisor {

  private static final Logger log = LoggerFactory.getLogger(LibvirtHypervisor.class);

  private final LibvirtConnection connection;
  private final HypervisorKind kind;
  private final DiskStore disks;
  private final ArchiveStore archives;
  private final HostPortAllocator ports;
  private final FarmDomains farmDomains;
  /** Held from choosing host ports until the domain recording them is defined. */
  private final Object placementLock = new Object();

  /** Takes ownership of {@code connection}: closing the hypervisor closes it. */
  public LibvirtHypervisor(LibvirtConnection connection, HypervisorKind kind, DiskStore disks,
      ArchiveStore archives, HostPortAllocator ports) {
    this.connection = connection;
    this.kind = kind;
    this.disks = disks;
    this.archives = archives;
    this.ports = ports;
    this.farmDomains = new FarmDomains(connection);
  }

  @FunctionalInterface
  private interface DomainAction {
    void apply(FarmDomain domain) throws LibvirtException;
  }

  @Override
  public HypervisorKind kind() {
    return kind;
  }

  @Override
  public NodeResources nodeResources() throws HypervisorException {
    try {
      NodeInfo node = connection.get().nodeInfo();
      return new NodeResources(node.cpus, node.memory / 1024); // libvirt reports KiB
    } catch (LibvirtException e) {
      throw new HypervisorException("reading node info from " + connection.uri() + " failed: "
          + LibvirtErrors.describe(e), e);
    }
  }

  @Override
  public List<DomainStatus> inventory() throws HypervisorException {
    try {
      List<DomainStatus> inventory = new ArrayList<>();
      for (FarmDomain farmDomain : farmDomains.all()) {
        FarmDomains.statusIfStillThere(farmDomain).ifPresent(inventory::add);
      }
      return inventory;
    } catch (LibvirtException e) {
      throw new HypervisorException("listing farm domains on " + connection.uri() + " failed: "
          + LibvirtErrors.describe(e), e);
    }
  }

  @Override
  public Optional<DomainStatus> status(String vmId) throws HypervisorException {
    Optional<FarmDomain> found = farmDomains.find(vmId);
    try {
      return found.isEmpty() ? Optional.empty() : FarmDomains.statusIfStillThere(found.get());
    } catch (LibvirtException e) {
      throw failure("status", vmId, e);
    }
  }

  @Override
  public DomainStatus install(DomainSpec spec) throws HypervisorException {
    String vmId = spec.vmId();
    synchronized (placementLock) {
      Optional<FarmDomain> existing = farmDomains.find(vmId);
      if (existing.isPresent()) {
        // Installed before (a repeated command): report it as it is.
        return withGeneration("install", existing.get(), spec.generation(), domain -> {});
      }
      List<PortForward> forwards =
          ports.choose(vmId, spec.guestPorts(), farmDomains.hostPortsInUse(), Map.of());
      prepareDisk(spec, "install");
      return define(spec, spec.generation(), forwards, "install");
    }
  }

  @Override
  public DomainStatus start(String vmId, long generation) throws HypervisorException {
    return withGeneration("start", require("start", vmId), generation, this::bootOrWake);
  }

  @Override
  public DomainStatus suspend(String vmId, long generation) throws HypervisorException {
    return withGeneration("suspend", require("suspend", vmId), generation, farmDomain -> {
      DomainState state = farmDomain.domain().getInfo().state;
      if (state == DomainState.VIR_DOMAIN_SHUTOFF || state == DomainState.VIR_DOMAIN_CRASHED) {
        // Already saved, or nothing in memory to save: host memory is free either way, and the
        // returned status tells the controller which it is.
        return;
      }
      farmDomain.domain().managedSave();
    });
  }

  @Override
  public DomainStatus resume(String vmId, long generation) throws HypervisorException {
    return withGeneration("resume", require("resume", vmId), generation, farmDomain -> {
      if (farmDomain.domain().isActive() == 0 && farmDomain.domain().hasManagedSaveImage() == 0) {
        log.warn("vm {} has no managed save image; booting it from its disk", vmId);
      }
      bootOrWake(farmDomain);
    });
  }

  @Override
  public String archive(String vmId, long generation) throws HypervisorException {
    Optional<FarmDomain> found = farmDomains.find(vmId);
    if (found.isEmpty()) {
      // Archived before (a repeated command) or never here.
      return archives.find(vmId).map(Path::toString).orElseThrow(() -> new HypervisorException(
          "cannot archive vm " + vmId + ": it is neither defined on this host nor in its archive"));
    }
    FarmDomain farmDomain = found.get();
    DomainMetadata metadata = farmDomain.metadata().atGeneration(generation);
    try {
      stopIfActive(farmDomain.domain());
      Path archiveDir = archives.store(
          vmId, disks.diskPath(vmId), DomainMetadataXml.toElementXml(metadata));
      undefine(farmDomain.domain());
      return archiveDir.toString();
    } catch (LibvirtException e) {
      throw failure("archive", vmId, e);
    } catch (IOException e) {
      throw new HypervisorException("archive of vm " + vmId + " failed: writing to "
          + archives.root() + ": " + e, e);
    }
  }

  @Override
  public DomainStatus restore(String archiveRef, DomainSpec spec) throws HypervisorException {
    String vmId = spec.vmId();
    synchronized (placementLock) {
      Optional<FarmDomain> existing = farmDomains.find(vmId);
      if (existing.isPresent()) {
        return withGeneration("restore", existing.get(), spec.generation(), domain -> {});
      }
      ArchivedVm archived;
      DomainMetadata archivedMetadata;
      try {
        archived = archives.open(archiveRef);
        archivedMetadata = DomainMetadataXml.fromElementXml(archived.metadataXml());
      } catch (IOException | MalformedMetadataException e) {
        throw new HypervisorException("restore of vm " + vmId + " failed: cannot read archive '"
            + archiveRef + "': " + e.getMessage(), e);
      }
      if (!archivedMetadata.vmId().equals(vmId)) {
        throw new HypervisorException("restore of vm " + vmId + " failed: archive '" + archiveRef
            + "' holds vm " + archivedMetadata.vmId());
      }
      Map<Integer, Integer> previousHostPorts = new HashMap<>();
      List<Integer> archivedGuestPorts = new ArrayList<>();
      for (PortForward forward : archivedMetadata.ports()) {
        previousHostPorts.put(forward.getGuestPort(), forward.getHostPort());
        archivedGuestPorts.add(forward.getGuestPort());
      }
      List<Integer> guestPorts =
          spec.guestPorts().isEmpty() ? archivedGuestPorts : spec.guestPorts();
      List<PortForward> forwards =
          ports.choose(vmId, guestPorts, farmDomains.hostPortsInUse(), previousHostPorts);
      if (archived.compressedDisk().isPresent()) {
        try {
          archives.restoreDisk(archived, disks.diskPath(vmId));
        } catch (IOException e) {
          throw new HypervisorException("restore of vm " + vmId + " failed: unpacking its disk to "
              + disks.diskPath(vmId) + ": " + e, e);
        }
      } else {
        prepareDisk(spec, "restore");
      }
      long generation = Math.max(spec.generation(), archivedMetadata.generation());
      DomainStatus status = define(spec, generation, forwards, "restore");
      try {
        archives.remove(archived.directory());
      } catch (IOException e) {
        // The VM is back and works; the leftover archive only costs space until the VM is deleted.
        log.warn("vm {} is restored but its archive {} could not be removed: {}",
            vmId, archived.directory(), e.toString());
      }
      return status;
    }
  }

  @Override
  public void delete(String vmId) throws HypervisorException {
    Optional<FarmDomain> found = farmDomains.find(vmId);
    if (found.isPresent()) {
      try {
        stopIfActive(found.get().domain());
        undefine(found.get().domain());
      } catch (LibvirtException e) {
        throw failure("delete", vmId, e);
      }
    }
    try {
      disks.remove(vmId);
      Optional<Path> archive = archives.find(vmId);
      if (archive.isPresent()) {
        archives.remove(archive.get());
      }
    } catch (IOException e) {
      throw new HypervisorException(
          "delete of vm " + vmId + " failed: removing its disk or archive: " + e, e);
    }
  }

  @Override
  public void close() {
    connection.close();
  }

  private void bootOrWake(FarmDomain farmDomain) throws LibvirtException {
    Domain domain = farmDomain.domain();
    DomainState state = domain.getInfo().state;
    switch (state) {
      case VIR_DOMAIN_RUNNING, VIR_DOMAIN_BLOCKED, VIR_DOMAIN_SHUTDOWN -> { }
      case VIR_DOMAIN_PAUSED -> domain.resume();
      case VIR_DOMAIN_CRASHED -> {
        stopIfActive(domain); // a crashed domain kept for inspection must go before it boots
        domain.create();
      }
      // create() boots from the managed save image when there is one.
      case VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_NOSTATE -> domain.create();
    }
  }

  private static void stopIfActive(Domain domain) throws LibvirtException {
    if (domain.isActive() == 0) {
      return;
    }
    try {
      domain.destroy();
    } catch (LibvirtException e) {
      if (domain.isActive() == 1) {
        throw e;
      }
      // It stopped on its own between the check and destroy(): the goal is reached.
    }
  }

  private static void undefine(Domain domain) throws LibvirtException {
    try {
      domain.undefine(Domain.UndefineFlags.MANAGED_SAVE);
    } catch (LibvirtException e) {
      if (!LibvirtErrors.isNoDomain(e)) {
        throw e;
      }
    }
  }

  private void prepareDisk(DomainSpec spec, String action) throws HypervisorException {
    try {
      disks.prepare(spec.vmId(), spec.image());
    } catch (IOException e) {
      throw new HypervisorException(action + " of vm " + spec.vmId() + " failed: preparing disk "
          + disks.diskPath(spec.vmId()) + ": " + e, e);
    }
  }

  private DomainStatus define(DomainSpec spec, long generation, List<PortForward> forwards,
      String action) throws HypervisorException {
    DomainMetadata metadata = new DomainMetadata(spec.vmId(), generation, forwards);
    String xml = DomainXmlBuilder.domainXml(new DomainDefinition(kind.domainType(), metadata,
        spec.vcpus(), spec.memoryMb(), disks.diskPath(spec.vmId())));
    try {
      Domain domain = connection.get().domainDefineXML(xml);
      return FarmDomains.status(new FarmDomain(domain, metadata));
    } catch (LibvirtException e) {
      throw failure(action, spec.vmId(), e);
    }
  }

  /** Records a newer generation in the domain's metadata, runs the action, reports the result. */
  private DomainStatus withGeneration(String action, FarmDomain farmDomain, long generation,
      DomainAction then) throws HypervisorException {
    String vmId = farmDomain.vmId();
    try {
      DomainMetadata updated = farmDomain.metadata().atGeneration(generation);
      if (updated != farmDomain.metadata()) {
        farmDomain.domain().setMetadata(Domain.MetadataType.ELEMENT,
            DomainMetadataXml.toSetMetadataXml(updated), DomainMetadataXml.PREFIX,
            DomainMetadataXml.NAMESPACE, Domain.ModificationImpact.CONFIG);
        farmDomain = new FarmDomain(farmDomain.domain(), updated);
      }
      then.apply(farmDomain);
      return FarmDomains.status(farmDomain);
    } catch (LibvirtException e) {
      throw failure(action, vmId, e);
    }
  }

  private FarmDomain require(String action, String vmId) throws HypervisorException {
    return farmDomains.find(vmId).orElseThrow(() -> new HypervisorException(
        "cannot " + action + " vm " + vmId + ": it is not defined on this host"));
  }

  private static HypervisorException failure(String action, String vmId, LibvirtException e) {
    return new HypervisorException(
        action + " of vm " + vmId + " failed: " + LibvirtErrors.describe(e), e);
  }
}
