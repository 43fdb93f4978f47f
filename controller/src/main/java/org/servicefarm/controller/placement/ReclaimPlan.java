package org.servicefarm.controller.placement;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * Which VMs to archive, on which host, so a VM no host has room for fits: a pure function of the
 * request, each host's shortfall and the VMs on the hosts, tested table-driven.
 *
 * <p>A VM may go when its priority is no higher than the request's and it is idle (no live
 * lease; a gateway's connections hold leases), or, when its priority is lower and its definition
 * is preemptible, even in use. On each host the VMs go lowest priority first, least recently
 * used first, until the host's shortfall is covered; then any VM the others already cover is
 * kept (the most valuable first), so none goes that is not needed. A project's VMs counted in
 * its reservation stay for other projects' requests ({@link Claim#project}). The plan chosen
 * archives no VM in use when one that does not exists, then the fewest VMs, then the lowest
 * priorities, then the host with the smallest id.
 */
public final class ReclaimPlan {
  private ReclaimPlan() {}

  /** The VM that needs room: its project, its definition's priority and its resources. */
  public record Claim(String project, int priority, int vcpus, long memoryMb) {}

  /**
   * A VM that holds resources on a host and might be archived.
   *
   * @param liveLeases its live leases (a gateway's connections hold leases too)
   * @param lastUsed when it was last used (a grant, renewal or release of a lease)
   */
  public record Resident(UUID vmId, String hostId, String project, String definition,
      int priority, boolean preemptible, int liveLeases, Instant lastUsed, int vcpus,
      long memoryMb) {
    public boolean inUse() {
      return liveLeases > 0;
    }
  }

  /** How much must leave a host for the VM to fit there (zero or less: it fits already). */
  public record Shortfall(String hostId, int vcpus, long memoryMb) {}

  /** What other projects may take of a project's VMs: its use above its reservation. */
  public record Spare(int vcpus, long memoryMb) {}

  /** The host to place on and the VMs to archive there first. */
  public record Plan(String hostId, List<Resident> victims) {
    public long preempted() {
      return victims.stream().filter(Resident::inUse).count();
    }
  }

  private static final Comparator<Resident> FIRST_TO_GO = Comparator
      .comparingInt(Resident::priority)
      .thenComparing(Resident::lastUsed)
      .thenComparing(Resident::vmId);

  /**
   * @param spare by project, what other projects may archive of its VMs (a project with no
   *     reservation is absent: no limit)
   * @return empty when no host can be given room
   */
  public static Optional<Plan> plan(Claim claim, List<Shortfall> hosts, List<Resident> residents,
      Map<String, Spare> spare) {
    Map<String, List<Resident>> byHost = new HashMap<>();
    for (Resident r : residents) {
      byHost.computeIfAbsent(r.hostId(), h -> new ArrayList<>()).add(r);
    }
    Plan best = null;
    for (Shortfall host : hosts) {
      List<Resident> onHost = byHost.getOrDefault(host.hostId(), List.of()).stream()
          .filter(r -> mayGo(claim, r)).sorted(FIRST_TO_GO).toList();
      // Preempting is the last resort: a host's plan uses VMs in use only when idle ones fall short.
      Optional<Plan> plan = onHost(claim, host, onHost.stream().filter(r -> !r.inUse()).toList(),
          spare).or(() -> onHost(claim, host, onHost, spare));
      if (plan.isPresent() && (best == null || better(plan.get(), best))) {
        best = plan.get();
      }
    }
    return Optional.ofNullable(best);
  }

  /** Whether the VM may be archived for the claim at all. */
  static boolean mayGo(Claim claim, Resident r) {
    if (r.inUse()) {
      return r.preemptible() && r.priority() < claim.priority();
    }
    return r.priority() <= claim.priority();
  }

  private static Optional<Plan> onHost(Claim claim, Shortfall host, List<Resident> ordered,
      Map<String, Spare> spare) {
    Map<String, long[]> left = new HashMap<>(); // project → {vcpus, memoryMb} others may still take
    List<Resident> chosen = new ArrayList<>();
    long vcpus = 0;
    long memory = 0;
    for (Resident r : ordered) {
      if (vcpus >= host.vcpus() && memory >= host.memoryMb()) {
        break;
      }
      if (!r.project().equals(claim.project()) && spare.containsKey(r.project())) {
        long[] l = left.computeIfAbsent(r.project(),
            p -> new long[] {spare.get(p).vcpus(), spare.get(p).memoryMb()});
        if (l[0] < r.vcpus() || l[1] < r.memoryMb()) {
          continue; // counted in its project's reservation
        }
        l[0] -= r.vcpus();
        l[1] -= r.memoryMb();
      }
      chosen.add(r);
      vcpus += r.vcpus();
      memory += r.memoryMb();
    }
    if (vcpus < host.vcpus() || memory < host.memoryMb()) {
      return Optional.empty();
    }
    // Keep any VM the others cover without it, the most valuable (last in order) first.
    for (int i = chosen.size() - 1; i >= 0; i--) {
      Resident r = chosen.get(i);
      if (vcpus - r.vcpus() >= host.vcpus() && memory - r.memoryMb() >= host.memoryMb()) {
        chosen.remove(i);
        vcpus -= r.vcpus();
        memory -= r.memoryMb();
      }
    }
    return Optional.of(new Plan(host.hostId(), List.copyOf(chosen)));
  }

  /** Fewer VMs in use, then fewer VMs, then lower priorities, then the smaller host id. */
  private static boolean better(Plan a, Plan b) {
    int c = Long.compare(a.preempted(), b.preempted());
    if (c == 0) {
      c = Integer.compare(a.victims().size(), b.victims().size());
    }
    if (c == 0) {
      c = Integer.compare(highest(a), highest(b));
    }
    if (c == 0) {
      c = a.hostId().compareTo(b.hostId());
    }
    return c < 0;
  }

  private static int highest(Plan p) {
    return p.victims().stream().mapToInt(Resident::priority).max().orElse(Integer.MIN_VALUE);
  }
}
