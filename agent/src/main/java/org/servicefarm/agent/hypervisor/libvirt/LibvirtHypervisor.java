package org.servicefarm.agent.hypervisor.libvirt;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.libvirt.Domain;
import org.libvirt.DomainInfo.DomainState;
import org.libvirt.LibvirtException;
import org.libvirt.NodeInfo;
import org.servicefarm.agent.hypervisor.DomainSpec;
import org.servicefarm.agent.hypervisor.Hypervisor;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.agent.hypervisor.HypervisorException.Kind;
import org.servicefarm.agent.hypervisor.HypervisorKind;
import org.servicefarm.agent.hypervisor.NodeResources;
import org.servicefarm.agent.hypervisor.WorkClock;
import org.servicefarm.agent.hypervisor.libvirt.QemuDomainDefinition.KernelBoot;
import org.servicefarm.agent.hypervisor.storage.ConsoleTail;
import org.servicefarm.agent.hypervisor.storage.DiskStore;
import org.servicefarm.agent.hypervisor.storage.PreparedDisk;
import org.servicefarm.agent.hypervisor.storage.VmArchives;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.PortForward;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * VM lifecycle on libvirt, over this host's farm domains as {@link FarmDomains} finds them. Each
 * operation first looks at the domain's state and only asks libvirt for a change when one is
 * needed, which is what makes repeated commands harmless. Archiving and restoring live in
 * {@link DomainArchiving}.
 *
 * <p>Slow work (fetching images, creating overlays) happens before the placement lock is taken;
 * the lock only covers choosing host ports and defining the domain that records them, and
 * trimming the image cache, which must see either a blob's lease or the domain using it.
 */
public final class LibvirtHypervisor implements Hypervisor {

  private static final Logger log = LoggerFactory.getLogger(LibvirtHypervisor.class);

  private final LibvirtConnection connection;
  private final HostSettings host;
  private final DiskStore disks;
  private final HostPortAllocator ports;
  private final FarmDomains farmDomains;
  private final DomainArchiving archiving;
  private final DomainBoot boot;
  private final MissingDisks missingDisks;
  private final Object placementLock = new Object();

  /** Takes ownership of {@code connection}: closing the hypervisor closes it. */
  public LibvirtHypervisor(LibvirtConnection connection, HostSettings host, DiskStore disks,
      VmArchives archives, HostPortAllocator ports) {
    this.connection = connection;
    this.host = host;
    this.disks = disks;
    this.ports = ports;
    this.farmDomains = new FarmDomains(connection, host.hostId());
    this.archiving = new DomainArchiving(host.kind(), disks, archives);
    this.boot = new DomainBoot(host, disks, DomainBoot.managedSaveDirFor(connection.uri()));
    this.missingDisks = new MissingDisks(host, disks);
  }

  @FunctionalInterface
  interface DomainAction {
    void apply(FarmDomain domain) throws LibvirtException, HypervisorException;
  }

  @Override
  public HypervisorKind kind() {
    return host.kind();
  }

  @Override
  public NodeResources nodeResources() throws HypervisorException {
    try {
      NodeInfo node = connection.get().nodeInfo();
      return new NodeResources(node.cpus, node.memory / 1024); // libvirt reports KiB
    } catch (LibvirtException e) {
      throw new HypervisorException(Kind.HYPERVISOR, "reading node info from " + connection.uri()
          + " failed: " + LibvirtErrors.describe(e), e);
    }
  }

  @Override
  public List<DomainStatus> inventory() throws HypervisorException {
    try {
      List<DomainStatus> inventory = new ArrayList<>();
      for (FarmDomain farmDomain : farmDomains.all()) {
        FarmDomains.statusIfStillThere(farmDomain).map(missingDisks::mark)
            .ifPresent(inventory::add);
      }
      return inventory;
    } catch (LibvirtException e) {
      throw new HypervisorException(Kind.HYPERVISOR, "listing farm domains on "
          + connection.uri() + " failed: " + LibvirtErrors.describe(e), e);
    }
  }

  @Override
  public byte[] consoleTail(String vmId, int maxBytes) throws HypervisorException {
    org.servicefarm.agent.hypervisor.VmIds.requireValid(vmId);
    try {
      return ConsoleTail.read(disks.consoleLogPath(vmId), maxBytes);
    } catch (java.io.IOException e) {
      throw new HypervisorException(HypervisorException.Kind.HYPERVISOR,
          "cannot read the console log of vm " + vmId + ": " + e.getMessage(), e);
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
  public Optional<String> unreachable() {
    return connection.problem();
  }

  @Override
  public List<String> cachedImages() throws HypervisorException {
    try {
      return disks.cachedImages();
    } catch (IOException e) {
      throw new HypervisorException(Kind.HYPERVISOR, "listing the image cache failed: " + e, e);
    }
  }

  @Override
  public DomainStatus install(DomainSpec spec) throws HypervisorException {
    String vmId = spec.vmId();
    Optional<FarmDomain> existing = farmDomains.find(vmId);
    if (existing.isPresent() && !missingDisks.lost(existing.get())) {
      // Installed before (a repeated command): report it as it is.
      return withGeneration("install", existing.get(), spec.generation(), domain -> {});
    }
    if (existing.isPresent()) {
      // Defined on a disk that is gone: the domain cannot boot, and is defined again below on
      // whatever disk the VM gets. Its saved memory, if any, belongs to the lost disk.
      log.warn("vm {}: its domain is defined but its disk {} is gone; defining it again", vmId,
          disks.diskPath(vmId));
      try {
        DomainBoot.stopIfActive(existing.get().domain());
        undefine(existing.get().domain());
      } catch (LibvirtException e) {
        throw failure("install", vmId, e);
      }
    }
    DomainStatus status;
    try (PreparedDisk disk = storage("install", vmId, () -> diskToInstallOn(spec))) {
      spec.progress().installing();
      synchronized (placementLock) {
        List<PortForward> forwards =
            ports.choose(vmId, spec.guestPorts(), farmDomains.hostPortsInUse(), Map.of());
        status = define(spec, spec.generation(), forwards, disk, "install");
      }
    }
    trimImageCache();
    return status;
  }

  /**
   * The disk the VM had, if it is still on this host (a domain lost while its disk stayed is
   * defined again on it); otherwise a new one from the image, unless the VM has run and so
   * needs the disk it ran on.
   */
  private PreparedDisk diskToInstallOn(DomainSpec spec) throws HypervisorException {
    Optional<PreparedDisk> kept = disks.existing(spec.vmId(), spec.image(), spec.progress());
    if (kept.isPresent()) {
      log.info("vm {}: defining its domain on its disk {}", spec.vmId(), kept.get().disk());
      return kept.get();
    }
    if (spec.keepDisk()) {
      throw new HypervisorException(Kind.DISK_LOST, "its disk " + disks.diskPath(spec.vmId())
          + " is not on this host, and the VM has run, so a new disk would lose its data");
    }
    PreparedDisk made = disks.prepare(spec.vmId(), spec.image(), spec.progress());
    spec.progress().newDisk();
    return made;
  }

  @Override
  public DomainStatus start(String vmId, long generation) throws HypervisorException {
    return withGeneration("start", require("start", vmId), generation, farmDomain -> {
      boolean wasRunning = farmDomain.domain().isActive() == 1;
      boot.bootOrWake(farmDomain);
      // A start repeated after this agent was killed mid-boot finds the guest running but maybe
      // not serving yet; answering at once would hand out an endpoint that does not work. Only a
      // start waits here: the controller sends it after a cold boot (install, restore), whose
      // console shows the marker once ready, while a guest woken by resume prints nothing.
      if (wasRunning) {
        boot.awaitServices(farmDomain);
      }
    });
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
    return resume(vmId, generation, notice -> { }, new WorkClock());
  }

  @Override
  public DomainStatus resume(String vmId, long generation, Consumer<String> notice,
      WorkClock clock) throws HypervisorException {
    FarmDomain farmDomain = require("resume", vmId);
    try {
      boot.wake(farmDomain, notice, clock);
      // Recorded after the restore, which waits for nothing else: a wake repeated after a crash
      // in between is the same wake.
      return FarmDomains.status(FarmDomains.atGenerationOnceRunning(farmDomain, generation));
    } catch (LibvirtException e) {
      throw failure("resume", vmId, e);
    }
  }

  @Override
  public String archive(String vmId, long generation) throws HypervisorException {
    Optional<FarmDomain> found = farmDomains.find(vmId);
    if (found.isEmpty()) {
      // Archived before (a repeated command), or never here.
      return archiving.uploadedRef(vmId).orElseThrow(() -> new HypervisorException(
          Kind.NOT_FOUND, "cannot archive vm " + vmId
              + ": it is neither defined on this host nor archived from it"));
    }
    FarmDomain farmDomain = found.get();
    try {
      DomainBoot.stopIfActive(farmDomain.domain());
      // A sleeping VM keeps its saved memory until the archive is stored: an archive that fails
      // (a full disk) leaves it as it was.
      String archiveRef =
          archiving.upload(farmDomain.metadata().atGeneration(generation));
      if (farmDomain.domain().hasManagedSaveImage() == 1) {
        // The archive keeps the disk only; a saved memory image would not match it after restore.
        farmDomain.domain().managedSaveRemove();
      }
      undefine(farmDomain.domain());
      archiving.removeLocalFiles(vmId);
      trimImageCache();
      return archiveRef;
    } catch (LibvirtException e) {
      throw failure("archive", vmId, e);
    }
  }

  @Override
  public DomainStatus restore(String archiveRef, DomainSpec spec) throws HypervisorException {
    String vmId = spec.vmId();
    Optional<FarmDomain> existing = farmDomains.find(vmId);
    if (existing.isPresent()) {
      return withGeneration("restore", existing.get(), spec.generation(), domain -> {});
    }
    DomainStatus status;
    try (DomainArchiving.Restored restored = archiving.restore(archiveRef, spec)) {
      synchronized (placementLock) {
        List<PortForward> forwards = ports.choose(vmId, restored.guestPorts(),
            farmDomains.hostPortsInUse(), restored.previousHostPorts());
        status = define(spec, restored.generation(), forwards, restored.disk(), "restore");
      }
    }
    try {
      archiving.forget(vmId);
    } catch (HypervisorException e) {
      // The VM is back and works; the leftovers only cost space until the VM is deleted.
      log.warn("vm {} is restored, but: {}", vmId, e.getMessage());
    }
    trimImageCache();
    return status;
  }

  @Override
  public void delete(String vmId) throws HypervisorException {
    Optional<FarmDomain> found = farmDomains.find(vmId);
    if (found.isPresent()) {
      try {
        DomainBoot.stopIfActive(found.get().domain());
        undefine(found.get().domain());
      } catch (LibvirtException e) {
        throw failure("delete", vmId, e);
      }
    }
    archiving.removeLocalFiles(vmId);
    archiving.forget(vmId);
    trimImageCache();
  }

  @Override
  public void close() {
    connection.close();
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

  /** Evicts cached blobs beyond the bound; a failure costs disk space, not the command. */
  // Listing the domains' blobs parses every domain's XML: done only when there is work to do.
  private void trimImageCache() {
    try {
      if (!disks.cacheOverBound()) {
        return;
      }
      synchronized (placementLock) {
        disks.trimCache(farmDomains.blobsInUse());
      }
    } catch (HypervisorException | IOException e) {
      log.warn("image cache not trimmed: {}", e.getMessage());
    }
  }

  @FunctionalInterface
  interface StorageStep<T> {
    T run() throws HypervisorException;
  }

  /** Runs a disk store step, naming the command and VM in its failure. */
  static <T> T storage(String action, String vmId, StorageStep<T> step)
      throws HypervisorException {
    try {
      return step.run();
    } catch (HypervisorException e) {
      throw new HypervisorException(e.kind(),
          action + " of vm " + vmId + " failed: " + e.getMessage(), e);
    }
  }

  private DomainStatus define(DomainSpec spec, long generation, List<PortForward> forwards,
      PreparedDisk disk, String action) throws HypervisorException {
    String vmId = spec.vmId();
    DomainMetadata metadata =
        new DomainMetadata(vmId, host.hostId(), generation, forwards, disk.blobs());
    String xml;
    if (host.kind().runsQemu()) {
      Optional<KernelBoot> kernelBoot = disk.kernel().map(kernel ->
          new KernelBoot(kernel, disk.initrd(), spec.image().getKernelCmdline()));
      xml = QemuDomainXmlBuilder.domainXml(new QemuDomainDefinition(host.kind(), metadata,
          spec.vcpus(), spec.memoryMb(), disk.disk(), kernelBoot, disks.consoleLogPath(vmId),
          host.forwardBind()));
    } else {
      xml = DomainXmlBuilder.domainXml(new DomainDefinition(
          host.kind().domainType(), metadata, spec.vcpus(), spec.memoryMb(), disk.disk()));
    }
    try {
      Domain domain = connection.get().domainDefineXML(xml);
      return FarmDomains.status(new FarmDomain(domain, metadata));
    } catch (LibvirtException e) {
      throw failure(action, vmId, e);
    }
  }

  /** Records a newer generation in the domain's metadata, runs the action, reports the result. */
  private DomainStatus withGeneration(String action, FarmDomain farmDomain, long generation,
      DomainAction then) throws HypervisorException {
    try {
      FarmDomain updated = FarmDomains.atGeneration(farmDomain, generation);
      then.apply(updated);
      return FarmDomains.status(updated);
    } catch (LibvirtException e) {
      throw failure(action, farmDomain.vmId(), e);
    }
  }

  private FarmDomain require(String action, String vmId) throws HypervisorException {
    return farmDomains.find(vmId).orElseThrow(() -> new HypervisorException(Kind.NOT_FOUND,
        "cannot " + action + " vm " + vmId + ": it is not defined on this host"));
  }

  private static HypervisorException failure(String action, String vmId, LibvirtException e) {
    return new HypervisorException(Kind.HYPERVISOR,
        action + " of vm " + vmId + " failed: " + LibvirtErrors.describe(e), e);
  }
}
