package org.servicefarm.controller.model;

/**
 * How a definition's VMs live: the idle ladder (a VM with no live lease sleeps, is archived and is
 * deleted after these many seconds since its last use; 0 never) and how many VMs it runs.
 *
 * @param minActive VMs kept ACTIVE whatever their leases: a warm pool
 * @param maxLeasesPerVm leases one VM takes before a request starts another VM (0: no limit)
 * @param maxInstances VMs the definition may have at most (not DELETED or FAILED)
 * @param stateless its VMs keep nothing on their disks: one whose disk is lost (with no archive)
 *     is installed again from the image instead of failing
 */
public record InstancePolicy(
    int sleepAfterSeconds,
    int archiveAfterSeconds,
    int deleteAfterSeconds,
    int minActive,
    int maxLeasesPerVm,
    int maxInstances,
    boolean stateless) {

  /** A policy for a definition whose VMs' disks are kept. */
  public InstancePolicy(int sleepAfterSeconds, int archiveAfterSeconds, int deleteAfterSeconds,
      int minActive, int maxLeasesPerVm, int maxInstances) {
    this(sleepAfterSeconds, archiveAfterSeconds, deleteAfterSeconds, minActive, maxLeasesPerVm,
        maxInstances, false);
  }

  /** What a definition gets when it says nothing: never idle out, one VM, no lease limit. */
  public static final InstancePolicy DEFAULT = new InstancePolicy(0, 0, 0, 0, 0, 1);

  /** Whether the idle ladder has anything to do for the definition. */
  public boolean laddered() {
    return sleepAfterSeconds > 0 || archiveAfterSeconds > 0 || deleteAfterSeconds > 0
        || minActive > 0;
  }

  /** Whether a VM holding {@code liveLeases} leases takes one more without exceeding the limit. */
  public boolean hasRoom(int liveLeases) {
    return maxLeasesPerVm == 0 || liveLeases < maxLeasesPerVm;
  }
}
