package org.servicefarm.controller.placement;

import java.util.Set;
import org.servicefarm.controller.model.HostRecord.HostStatus;

/**
 * What the scheduler knows of one host at decision time.
 *
 * @param status UP, DOWN or DRAINING
 * @param connected whether the host's agent holds a stream to this controller now
 * @param cpuPercent the host's reported CPU use, 0 to 100
 * @param diskFreeMb free disk in the host's state directory, as last reported
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
    long diskFreeMb) {

  /** Free disk the host reported, or {@link #DISK_UNKNOWN} before any report says. */
  public static final long DISK_UNKNOWN = -1;

  /** A host whose free disk is not known: placement does not hold disk against it. */
  public HostSnapshot(String id, HostStatus status, boolean connected, int capacityVcpus,
      long capacityMemoryMb, int allocatedVcpus, long allocatedMemoryMb, double cpuPercent,
      Set<String> cachedImages) {
    this(id, status, connected, capacityVcpus, capacityMemoryMb, allocatedVcpus,
        allocatedMemoryMb, cpuPercent, cachedImages, DISK_UNKNOWN);
  }
}
