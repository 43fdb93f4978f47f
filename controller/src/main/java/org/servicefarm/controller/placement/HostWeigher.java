package org.servicefarm.controller.placement;

/**
 * The terms of a feasible host's score, lower is better: its load after placing the VM, each
 * term weighted. What the farm has promised (allocations) dominates what the host reports now,
 * because reports lag and a burst of placements has not shown up in them yet. Every term is
 * between 0 and about 1 and never negative, so {@link #MEMORY}'s weighted term alone is a lower
 * bound of the score, which the scheduler's screen relies on.
 */
public enum HostWeigher {
  MEMORY(0.5),
  CPU_ALLOCATION(0.3),
  CPU_USE(0.2);

  /** A host that caches the image saves a transfer: worth a few percent of load, no more. */
  public static final double CACHED_IMAGE_BONUS = 0.05;

  static final HostWeigher[] ALL = values();

  private final double weight;

  HostWeigher(double weight) {
    this.weight = weight;
  }

  public double weight() {
    return weight;
  }

  /** This weigher's weighted term for the host with the VM placed on it. */
  double weighted(PlacementRequest request, HostSnapshot host, double cpuOvercommit) {
    double term = switch (this) {
      case MEMORY ->
          (double) (host.allocatedMemoryMb() + request.memoryMb()) / host.capacityMemoryMb();
      case CPU_ALLOCATION ->
          (host.allocatedVcpus() + request.vcpus()) / (host.capacityVcpus() * cpuOvercommit);
      case CPU_USE -> Math.max(0, Math.min(100, host.cpuPercent())) / 100.0;
    };
    return weight * term;
  }

  /** The host's load after placing: the sum of every weigher's term, without the cache bonus. */
  static double load(PlacementRequest request, HostSnapshot host, double cpuOvercommit) {
    double sum = 0;
    for (HostWeigher weigher : ALL) {
      sum += weigher.weighted(request, host, cpuOvercommit);
    }
    return sum;
  }
}
