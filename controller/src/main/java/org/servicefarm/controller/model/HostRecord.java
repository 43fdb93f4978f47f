package org.servicefarm.controller.model;

import java.time.Instant;

/** One row of {@code hosts} with the resources its VMs hold. */
public record HostRecord(
    String id,
    String address,
    String hypervisor,
    HostStatus status,
    int capacityVcpus,
    long capacityMemoryMb,
    long capacityDiskMb,
    HostLoad load,
    Instant lastReportAt,
    int allocatedVcpus,
    long allocatedMemoryMb) {

  public enum HostStatus {
    UP,
    DOWN,
    DRAINING
  }

  /** What the host's agent last reported. */
  public record HostLoad(
      double cpuPercent, long memoryUsedMb, long memoryTotalMb, int vmCount, long diskFreeMb) {
    public static final HostLoad NONE = new HostLoad(0, 0, 0, 0, 0);
  }
}
