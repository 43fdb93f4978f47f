package org.servicefarm.controller.model;

import java.time.Instant;
import java.util.Map;

/**
 * One row of {@code hosts} with the resources its VMs hold, its labels (an admin's over its
 * agent's) and its overcommit ratios (0: the controller's default).
 */
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
    long allocatedMemoryMb,
    Map<String, String> labels,
    double cpuOvercommit,
    double memoryOvercommit) {

  /** A host without labels, on the controller's overcommit defaults. */
  public HostRecord(String id, String address, String hypervisor, HostStatus status,
      int capacityVcpus, long capacityMemoryMb, long capacityDiskMb, HostLoad load,
      Instant lastReportAt, int allocatedVcpus, long allocatedMemoryMb) {
    this(id, address, hypervisor, status, capacityVcpus, capacityMemoryMb, capacityDiskMb, load,
        lastReportAt, allocatedVcpus, allocatedMemoryMb, Map.of(), 0, 0);
  }

  /** The same host with these allocations (the VMs placed since it was read added). */
  public HostRecord withAllocated(int vcpus, long memoryMb) {
    return new HostRecord(id, address, hypervisor, status, capacityVcpus, capacityMemoryMb,
        capacityDiskMb, load, lastReportAt, vcpus, memoryMb, labels, cpuOvercommit,
        memoryOvercommit);
  }

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
