package org.servicefarm.controller.scheduler;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Chooses hosts for a VM: a pure function of (request, snapshot of hosts) with no I/O.
 *
 * <p>Feasibility filters first, each with a named reason, so "no host fits" says why; then a
 * load score. Memory is never overcommitted; vCPUs may be, by a fixed ratio, because idle guests
 * rarely use their vCPUs fully. Ties are broken by host id so equal hosts rank the same way every
 * time.
 */
public final class PlacementScheduler {
  static final String REASON_DOWN = "host is down";
  static final String REASON_DRAINING = "host is draining";
  static final String REASON_DISCONNECTED = "agent not connected";
  static final String REASON_MEMORY = "not enough free memory";
  static final String REASON_CPU = "not enough free vCPUs";

  // Weights of the load score: what the farm has promised dominates what the host reports now,
  // because reports lag and a burst of placements has not shown up in them yet.
  private static final double MEMORY_WEIGHT = 0.5;
  private static final double CPU_ALLOCATION_WEIGHT = 0.3;
  private static final double CPU_USE_WEIGHT = 0.2;
  // A host that caches the image saves a transfer: worth a few percent of load, no more.
  private static final double CACHED_IMAGE_BONUS = 0.05;

  private final double cpuOvercommit;

  public PlacementScheduler(double cpuOvercommit) {
    if (!(cpuOvercommit >= 1.0)) {
      throw new IllegalArgumentException("cpu overcommit must be at least 1.0, got " + cpuOvercommit);
    }
    this.cpuOvercommit = cpuOvercommit;
  }

  public Placement place(PlacementRequest request, List<HostSnapshot> hosts) {
    if (hosts.isEmpty()) {
      return new Placement.NoHost(
          Map.of(), true, "no farm hosts are registered: start an agent on a farm host");
    }
    Map<String, Integer> rejections = new LinkedHashMap<>();
    List<Placement.RankedHost> ranked = new ArrayList<>();
    for (HostSnapshot host : hosts) {
      Optional<String> reason = reject(request, host);
      if (reason.isPresent()) {
        rejections.merge(reason.get(), 1, Integer::sum);
      } else {
        ranked.add(new Placement.RankedHost(host.id(), score(request, host)));
      }
    }
    if (ranked.isEmpty()) {
      return new Placement.NoHost(rejections, false, describe(request, hosts.size(), rejections));
    }
    ranked.sort(
        Comparator.comparingDouble(Placement.RankedHost::score)
            .thenComparing(Placement.RankedHost::hostId));
    return new Placement.Ranked(List.copyOf(ranked));
  }

  Optional<String> reject(PlacementRequest request, HostSnapshot host) {
    if ("DOWN".equals(host.status())) {
      return Optional.of(REASON_DOWN);
    }
    if ("DRAINING".equals(host.status())) {
      return Optional.of(REASON_DRAINING);
    }
    if (!host.connected()) {
      return Optional.of(REASON_DISCONNECTED);
    }
    if (host.allocatedMemoryMb() + request.memoryMb() > host.capacityMemoryMb()) {
      return Optional.of(REASON_MEMORY);
    }
    if (host.allocatedVcpus() + request.vcpus() > host.capacityVcpus() * cpuOvercommit) {
      return Optional.of(REASON_CPU);
    }
    return Optional.empty();
  }

  double score(PlacementRequest request, HostSnapshot host) {
    double memory =
        (double) (host.allocatedMemoryMb() + request.memoryMb()) / host.capacityMemoryMb();
    double cpu =
        (host.allocatedVcpus() + request.vcpus()) / (host.capacityVcpus() * cpuOvercommit);
    double use = Math.max(0, Math.min(100, host.cpuPercent())) / 100.0;
    double score = MEMORY_WEIGHT * memory + CPU_ALLOCATION_WEIGHT * cpu + CPU_USE_WEIGHT * use;
    if (request.imageDigest() != null && host.cachedImages().contains(request.imageDigest())) {
      score -= CACHED_IMAGE_BONUS;
    }
    return score;
  }

  private static String describe(
      PlacementRequest request, int hostCount, Map<String, Integer> rejections) {
    StringBuilder why = new StringBuilder();
    rejections.forEach(
        (reason, count) -> {
          if (why.length() > 0) {
            why.append("; ");
          }
          why.append(count).append(count == 1 ? " host: " : " hosts: ").append(reason);
        });
    return "no host can take a VM with "
        + request.vcpus()
        + " vCPU and "
        + request.memoryMb()
        + " MB of memory among "
        + hostCount
        + (hostCount == 1 ? " host (" : " hosts (")
        + why
        + ")";
  }
}
