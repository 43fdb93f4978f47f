package org.servicefarm.controller.placement;

import java.util.Map;
import java.util.Set;
import org.servicefarm.controller.model.HostRecord.HostStatus;

/**
 * What the scheduler knows of one host at decision time.
 *
 * @param status UP, DOWN or DRAINING
 * @param connected whether the host's agent holds a stream to this controller now
 * @param cpuPercent the host's reported CPU use, 0 to 100
 * @param diskFreeMb free disk in the host's state directory, as last reported
 * @param labels the host's labels (zone=a, rack=r1), which placement rules match
 * @param cpuOvercommit vCPUs the host may promise per core; 0: the scheduler's default
 * @param memoryOvercommit memory the host may promise per MB it has; 0 (or less) is taken as 1.0
 */
public record HostSnapshot(
    String id,
    HostStatus status,
    boolean connected,
    int capacityVcpus,
    long capacityMemoryMb,
    int allocatedVcpus,
    long allocatedMemoryMb,
    double cpuPercent,
    Set<String> cachedImages,
    long diskFreeMb,
    Map<String, String> labels,
    double cpuOvercommit,
    double memoryOvercommit) {

  /** A memory ratio of 0 is 1.0, so {@link #memoryLimitMb} needs no branch in the screen. */
  public HostSnapshot {
    if (!(memoryOvercommit > 0)) {
      memoryOvercommit = 1.0;
    }
  }

  /** Free disk the host reported, or {@link #DISK_UNKNOWN} before any report says. */
  public static final long DISK_UNKNOWN = -1;

  /** A host without labels, on the default overcommit ratios. */
  public HostSnapshot(String id, HostStatus status, boolean connected, int capacityVcpus,
      long capacityMemoryMb, int allocatedVcpus, long allocatedMemoryMb, double cpuPercent,
      Set<String> cachedImages, long diskFreeMb) {
    this(id, status, connected, capacityVcpus, capacityMemoryMb, allocatedVcpus,
        allocatedMemoryMb, cpuPercent, cachedImages, diskFreeMb, Map.of(), 0, 0);
  }

  /** A host whose free disk is not known: placement does not hold disk against it. */
  public HostSnapshot(String id, HostStatus status, boolean connected, int capacityVcpus,
      long capacityMemoryMb, int allocatedVcpus, long allocatedMemoryMb, double cpuPercent,
      Set<String> cachedImages) {
    this(id, status, connected, capacityVcpus, capacityMemoryMb, allocatedVcpus,
        allocatedMemoryMb, cpuPercent, cachedImages, DISK_UNKNOWN);
  }

  /** The memory the host may promise to VMs: its memory times its memory overcommit ratio. */
  public long memoryLimitMb() {
    return (long) (capacityMemoryMb * memoryOvercommit);
  }

  /** The vCPUs the host may promise: its vCPUs times its ratio, or the scheduler's default. */
  public double vcpuLimit(double defaultCpuOvercommit) {
    return capacityVcpus * (cpuOvercommit > 0 ? cpuOvercommit : defaultCpuOvercommit);
  }
}
