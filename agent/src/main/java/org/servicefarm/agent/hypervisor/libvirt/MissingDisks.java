package org.servicefarm.agent.hypervisor.libvirt;

import java.nio.file.Files;
import org.libvirt.LibvirtException;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.agent.hypervisor.storage.DiskStore;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.PowerState;

/**
 * Farm domains whose disk file is gone (a wiped state directory, a replaced host disk). Only a
 * stopped QEMU domain counts: a running guest still holds its disk open, and a test-driver
 * domain has no disk to lose.
 */
final class MissingDisks {
  private final HostSettings host;
  private final DiskStore disks;

  MissingDisks(HostSettings host, DiskStore disks) {
    this.host = host;
    this.disks = disks;
  }

  /** The status as reported, marked when the domain's disk is gone. */
  DomainStatus mark(DomainStatus status) {
    boolean stopped = status.getPower() != PowerState.POWER_STATE_RUNNING
        && status.getPower() != PowerState.POWER_STATE_PAUSED;
    if (stopped && host.kind().runsQemu()
        && !Files.isRegularFile(disks.diskPath(status.getVmId()))) {
      return status.toBuilder().setDiskMissing(true).build();
    }
    return status;
  }

  /** Whether the domain is stopped and its disk gone, so it cannot boot as defined. */
  boolean lost(FarmDomain farmDomain) throws HypervisorException {
    try {
      return host.kind().runsQemu() && farmDomain.domain().isActive() == 0
          && !Files.isRegularFile(disks.diskPath(farmDomain.vmId()));
    } catch (LibvirtException e) {
      throw new HypervisorException(HypervisorException.Kind.HYPERVISOR, "install of vm "
          + farmDomain.vmId() + " failed: " + LibvirtErrors.describe(e), e);
    }
  }
}
