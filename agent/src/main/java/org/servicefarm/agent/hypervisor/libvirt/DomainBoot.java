package org.servicefarm.agent.hypervisor.libvirt;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Consumer;
import org.libvirt.Domain;
import org.libvirt.DomainInfo.DomainState;
import org.libvirt.LibvirtException;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.agent.hypervisor.WorkClock;
import org.servicefarm.agent.hypervisor.storage.DiskStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Boots and wakes farm domains. A wake whose saved memory image is missing or unreadable boots
 * the guest from its disk instead of failing: the memory state is lost, the disk (what the guest
 * wrote) is kept, and the caller hears a notice saying so.
 */
final class DomainBoot {

  private static final Logger log = LoggerFactory.getLogger(DomainBoot.class);
  // TCG boots a composed guest in about 8 s on an idle 2-core host; allow for a loaded one.
  private static final Duration GUEST_READY_TIMEOUT = Duration.ofSeconds(180);

  private final HostSettings host;
  private final DiskStore disks;
  // Where libvirtd keeps managed save images ("<domain name>.save"), when known for the URI.
  private final Optional<Path> managedSaveDir;

  DomainBoot(HostSettings host, DiskStore disks, Optional<Path> managedSaveDir) {
    this.host = host;
    this.disks = disks;
    this.managedSaveDir = managedSaveDir;
  }

  /** libvirtd's managed save directory for the system QEMU driver; unknown for other URIs. */
  static Optional<Path> managedSaveDirFor(String libvirtUri) {
    return libvirtUri.startsWith("qemu:///system")
        ? Optional.of(Path.of("/var/lib/libvirt/qemu/save")) : Optional.empty();
  }

  /**
   * Starts the domain from its saved memory; when that image is missing or unreadable, boots it
   * from its disk and tells {@code notice} what was lost.
   */
  void wake(FarmDomain farmDomain, Consumer<String> notice, WorkClock clock)
      throws LibvirtException, HypervisorException {
    clock.started();
    try {
      wake(farmDomain, notice);
    } finally {
      clock.done();
    }
  }

  private void wake(FarmDomain farmDomain, Consumer<String> notice)
      throws LibvirtException, HypervisorException {
    Domain domain = farmDomain.domain();
    String vmId = farmDomain.vmId();
    if (domain.isActive() == 1) {
      bootOrWake(farmDomain);
      return;
    }
    if (domain.hasManagedSaveImage() == 0) {
      log.warn("vm {} has no managed save image; booting it from its disk", vmId);
      bootOrWake(farmDomain);
      notice.accept("it had no saved memory image, so it booted from its disk: memory state"
          + " lost, disk kept");
      return;
    }
    // Absence counts only where this agent can see the directory: an agent without the right to
    // look must not take an image it cannot see for a missing one (create() still tells).
    Optional<Path> saved = managedSaveDir.filter(Files::isDirectory)
        .map(dir -> savedImage(dir, domain));
    if (saved.isPresent() && !Files.isRegularFile(saved.get())) {
      // libvirtd still believes in the image (it looked when it started) and would boot the
      // guest cold without a word; booting on purpose lets the readiness wait and notice follow.
      log.warn("vm {}: its managed save image {} is missing; booting it from its disk", vmId,
          saved.get());
      coldBoot(farmDomain);
      notice.accept("its saved memory image " + saved.get() + " was missing, so it booted from"
          + " its disk: memory state lost, disk kept");
      return;
    }
    try {
      domain.create();
    } catch (LibvirtException unreadable) {
      if (domain.isActive() == 1) {
        // Started meanwhile by another caller: a restore that an agent killed mid-wake asked
        // for goes on in libvirtd, and its repeated command lands here ("domain is already
        // running"). The guest is up from its saved memory, which is what this call wants.
        log.info("vm {} was woken meanwhile ({}); it runs", vmId,
            LibvirtErrors.describe(unreadable));
        bootOrWake(farmDomain);
        return;
      }
      String why = LibvirtErrors.describe(unreadable);
      log.warn("vm {}: its managed save image could not be restored ({}); booting it from its"
          + " disk", vmId, why);
      coldBoot(farmDomain);
      notice.accept("its saved memory image could not be restored (" + why + "), so it booted"
          + " from its disk: memory state lost, disk kept");
    }
  }

  /** Boots the domain, or wakes it from its managed save image when it has one. */
  void bootOrWake(FarmDomain farmDomain) throws LibvirtException, HypervisorException {
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
      case VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_NOSTATE -> {
        boolean cold = domain.hasManagedSaveImage() == 0;
        domain.create();
        if (cold) {
          awaitServices(farmDomain);
        }
      }
    }
  }

  /** Boots from the disk, discarding any saved memory image, and waits for the services. */
  private void coldBoot(FarmDomain farmDomain) throws LibvirtException, HypervisorException {
    farmDomain.domain().create(Domain.CreateFlags.FORCE_BOOT);
    awaitServices(farmDomain);
  }

  /** A composed guest says on its console when its services listen; others say nothing. */
  void awaitServices(FarmDomain farmDomain) throws HypervisorException {
    if (bootsComposedImage(farmDomain)) {
      GuestReadiness.await(farmDomain.vmId(), disks.consoleLogPath(farmDomain.vmId()),
          GUEST_READY_TIMEOUT);
    }
  }

  // A composed image brings a disk, a kernel and an initrd (and a base layer), and its init reports readiness; a
  // registered image boots from its disk alone and says nothing.
  boolean bootsComposedImage(FarmDomain farmDomain) {
    return host.kind().runsQemu() && farmDomain.metadata().blobs().size() >= 3;
  }

  static void stopIfActive(Domain domain) throws LibvirtException {
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

  private static Path savedImage(Path dir, Domain domain) {
    try {
      return dir.resolve(domain.getName() + ".save");
    } catch (LibvirtException e) {
      // Without the name there is no file to look at; create() will say if the image is bad.
      return null;
    }
  }
}
