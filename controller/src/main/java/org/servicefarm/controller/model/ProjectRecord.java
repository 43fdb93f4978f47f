package org.servicefarm.controller.model;

import java.time.Instant;

/**
 * A row of {@code projects}: a team's share of the farm and its limits.
 *
 * @param quota its limits (a null field: no limit)
 */
public record ProjectRecord(String name, Instant createdAt, Quota quota) {

  /** Limits of a project; a null field is no limit. */
  public record Quota(Integer vcpus, Long memoryMb, Integer vms, Long storedBytes) {
    public static final Quota NONE = new Quota(null, null, null, null);
  }

  /**
   * What a project holds, counted as its quota counts: vCPUs, memory and VMs of the VMs wanted
   * ACTIVE or SLEEPING (or archived only to move), and the bytes of its images.
   */
  public record Usage(int vcpus, long memoryMb, int vms, long storedBytes) {
    public static final Usage NONE = new Usage(0, 0, 0, 0);

    public Usage plus(int moreVcpus, long moreMemoryMb, int moreVms, long moreBytes) {
      return new Usage(vcpus + moreVcpus, memoryMb + moreMemoryMb, vms + moreVms,
          storedBytes + moreBytes);
    }
  }
}
