package org.servicefarm.controller.placement;

/**
 * The terms of a feasible host's score, lower is better: its load after placing the VM, each
 * term weighted. What the farm has promised (allocations) dominates what the host reports now,
 * because reports lag and a burst of placements has not shown up in them yet. The load terms are
 * between 0 and about 1; the placement rules' terms are whole numbers weighted past them, so a
 * rule ranks hosts before load does. No term is negative, so {@link #MEMORY}'s weighted term
 * alone is a lower bound of the score, which the scheduler's screen relies on.
 */
public enum HostWeigher {
  MEMORY(0.5),
  CPU_ALLOCATION(0.3),
  CPU_USE(0.2),
  /**
   * A soft spread: each VM past the skew a host would take it. Weighted so far past the load
   * terms that a host keeping the skew always ranks first (SpreadRule).
   */
  SOFT_SPREAD(1000.0),
  /**
   * Anti-affinity: the definition's VMs already on the host. Weighted past the load terms, so a
   * host with fewer of them ranks first whatever its load (PlacementRules).
   */
  ANTI_AFFINITY(2.0);

  /** A host that caches the image saves a transfer: worth a few percent of load, no more. */
  public static final double CACHED_IMAGE_BONUS = 0.05;

  static final HostWeigher[] ALL = values();
  private static final HostWeigher[] LOAD = {MEMORY, CPU_ALLOCATION, CPU_USE};

  /** The weighers of the request: one without soft rules or VMs to keep apart has load alone. */
  static HostWeigher[] weighersFor(PlacementRequest request) {
    return request.rules().weighs() ? ALL : LOAD;
  }

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
          (double) (host.allocatedMemoryMb() + request.memoryMb()) / host.memoryLimitMb();
      case CPU_ALLOCATION ->
          (host.allocatedVcpus() + request.vcpus()) / host.vcpuLimit(cpuOvercommit);
      case CPU_USE -> Math.max(0, Math.min(100, host.cpuPercent())) / 100.0;
      case SOFT_SPREAD -> request.rules().softSpreadExcess(host);
      case ANTI_AFFINITY -> request.rules().instancesOn(host);
    };
    return weight * term;
  }

  /** The host's load after placing: the sum of every weigher's term, without the cache bonus. */
  static double load(PlacementRequest request, HostSnapshot host, double cpuOvercommit) {
    return load(weighersFor(request), request, host, cpuOvercommit);
  }

  /** As above, with the request's {@link #weighersFor} chosen once for all its hosts. */
  static double load(HostWeigher[] weighers, PlacementRequest request, HostSnapshot host,
      double cpuOvercommit) {
    double sum = 0;
    for (HostWeigher weigher : weighers) {
      sum += weigher.weighted(request, host, cpuOvercommit);
    }
    return sum;
  }
}
