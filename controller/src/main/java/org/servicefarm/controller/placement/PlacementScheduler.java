package org.servicefarm.controller.placement;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.RandomAccess;

/**
 * Chooses hosts for a VM: a pure function of (request, snapshot of hosts) with no I/O.
 *
 * <p>A pipeline: the feasibility rules of {@link HostFilter} first, each a named rule whose
 * rejections are counted, so "no host fits" says why; then the load score the
 * {@link HostWeigher}s add up. vCPUs are overcommitted by a ratio (the host's, or the default
 * given here), because idle guests rarely use their vCPUs fully; memory only where a host's ratio
 * says so (default 1.0). A definition's placement rules ({@link PlacementRules}: label
 * constraints, spread over a label, anti-affinity) are filters and weighers like the others, so a
 * request no host can take says how many hosts each rule ruled out. Ties are broken by host id so
 * equal hosts rank the same way every time.
 *
 * <p>Only the best {@link #CANDIDATES} hosts are returned, chosen in one pass with a bounded heap:
 * a decision over n hosts costs O(n log K) with no allocation per host, instead of scoring into a
 * list and sorting all n; a cheap screen on the memory term lets most hosts skip the filters and
 * the score once K hosts fit. The result equals the first K of a full sort, ties included.
 */
public final class PlacementScheduler {
  /**
   * How many hosts a decision returns. The Placer tries them in order at commit, and a candidate
   * fails there only when concurrent placements filled it after the snapshot was taken; that hits
   * the few best hosts a burst of simultaneous requests all chose, so 8 leaves room for several
   * lost races before a request has to be retried, while the heap stays a few cache lines.
   */
  public static final int CANDIDATES = 8;

  // Survivors of the screen gathered before they are scored and the bar is raised: enough that the
  // screen runs as a tight loop, few enough that the bar tightens early (measured: 32 beat 16, 64
  // and 256 at 10,000 hosts).
  private static final int SCREEN_CHUNK = 32;
  // Scores are of order 1 and rounding errors of order 1e-16: a host within this of the worst kept
  // is always scored exactly.
  private static final double SCREEN_MARGIN = 1e-9;

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
    List<HostSnapshot> list = hosts instanceof RandomAccess ? hosts : new ArrayList<>(hosts);
    if (request.rules().spread() != null) {
      request = request.withRules(request.rules().prepared(list));
    }
    int[] rejections = new int[HostFilter.PIPELINE.length];
    HostFilter[] pipeline = HostFilter.pipelineFor(request);
    HostWeigher[] weighers = HostWeigher.weighersFor(request);
    TopHosts best = new TopHosts(CANDIDATES);
    double bonus = request.imageDigest() != null ? HostWeigher.CACHED_IMAGE_BONUS : 0;
    // Screen hosts in chunks, then filter and score the chunk's survivors. A host is screened out
    // when its memory term alone, a lower bound of its score, less any bonus, already ranks after
    // the worst host kept. That happens only once K hosts fit, when the answer is Ranked and
    // rejection counts go unused, so skipping a host's filters loses nothing. The screen is written
    // without a branch (the survivor's index is always stored, the count advanced by 0 or 1) because
    // on real clusters whether a host survives is a coin toss the CPU cannot predict, and
    // mispredictions, not arithmetic, would dominate the pass.
    int[] survivors = new int[SCREEN_CHUNK];
    int count = 0;
    double limit = best.screenLimit(bonus);
    for (int i = 0, n = list.size(); i < n; i++) {
      HostSnapshot host = list.get(i);
      survivors[count] = i;
      count +=
          HostWeigher.MEMORY.weight() * (host.allocatedMemoryMb() + request.memoryMb())
                  > limit * host.memoryLimitMb()
              ? 0
              : 1;
      if (count == SCREEN_CHUNK) {
        evaluate(request, list, survivors, count, best, rejections, pipeline, weighers);
        limit = best.screenLimit(bonus);
        count = 0;
      }
    }
    evaluate(request, list, survivors, count, best, rejections, pipeline, weighers);
    if (best.isEmpty()) {
      Map<HostFilter, Integer> named = named(rejections);
      return new Placement.NoHost(named, false, describe(request, hosts.size(), named));
    }
    return new Placement.Ranked(best.bestFirst());
  }

  /** Filters and scores the screened hosts, counting rejections and keeping the best. */
  private void evaluate(PlacementRequest request, List<HostSnapshot> hosts, int[] indexes,
      int count, TopHosts best, int[] rejections, HostFilter[] pipeline, HostWeigher[] weighers) {
    String digest = request.imageDigest();
    for (int i = 0; i < count; i++) {
      HostSnapshot host = hosts.get(indexes[i]);
      HostFilter rejecting = HostFilter.firstRejecting(pipeline, request, host, cpuOvercommit);
      if (rejecting != null) {
        rejections[rejecting.ordinal()]++;
        continue;
      }
      double score = HostWeigher.load(weighers, request, host, cpuOvercommit);
      // The cache lookup is the dearest step; skip it when even the bonus cannot get the host in.
      if (digest != null
          && best.couldAdmit(score - HostWeigher.CACHED_IMAGE_BONUS, host)
          && host.cachedImages().contains(digest)) {
        score -= HostWeigher.CACHED_IMAGE_BONUS;
      }
      best.offer(score, host);
    }
  }

  /** The first rule that turns the host away, or null when the host can take the VM. */
  HostFilter reject(PlacementRequest request, HostSnapshot host) {
    return HostFilter.firstRejecting(request, host, cpuOvercommit);
  }

  /** The score of a feasible host, lower is better: its load after placing, less any cache bonus. */
  double score(PlacementRequest request, HostSnapshot host) {
    double score = HostWeigher.load(request, host, cpuOvercommit);
    if (request.imageDigest() != null && host.cachedImages().contains(request.imageDigest())) {
      score -= HostWeigher.CACHED_IMAGE_BONUS;
    }
    return score;
  }

  /** Counts by rule, in pipeline order, leaving out rules that turned no host away. */
  private static Map<HostFilter, Integer> named(int[] rejections) {
    Map<HostFilter, Integer> named = new EnumMap<>(HostFilter.class);
    for (int i = 0; i < rejections.length; i++) {
      if (rejections[i] > 0) {
        named.put(HostFilter.PIPELINE[i], rejections[i]);
      }
    }
    return Collections.unmodifiableMap(named);
  }

  /**
   * The best hosts seen so far: a max-heap of at most {@code capacity} entries whose root is the
   * worst kept, so a better host replaces it in O(log capacity). Order is (score, host id).
   */
  private static final class TopHosts {
    private final double[] scores;
    private final HostSnapshot[] hosts;
    private int size;

    TopHosts(int capacity) {
      scores = new double[capacity];
      hosts = new HostSnapshot[capacity];
    }

    boolean isEmpty() {
      return size == 0;
    }

    /**
     * The memory term above which a host cannot be kept. Until the heap is full it is NaN, which
     * every comparison finds false, so no host is screened out while rejections may still matter.
     * The margin leaves hosts within rounding distance of the worst kept (the screen multiplies
     * where the score divides) to the exact comparison.
     */
    double screenLimit(double bonus) {
      return size < scores.length ? Double.NaN : scores[0] + bonus + SCREEN_MARGIN;
    }

    /** Whether a host with this score would be kept: the heap has room or it beats the worst. */
    boolean couldAdmit(double score, HostSnapshot host) {
      return size < scores.length || worse(scores[0], hosts[0], score, host);
    }

    void offer(double score, HostSnapshot host) {
      if (size < scores.length) {
        int i = size++;
        // Sift up: move worse parents down until the parent is at least as bad.
        while (i > 0) {
          int parent = (i - 1) / 2;
          if (!worse(score, host, scores[parent], hosts[parent])) {
            break;
          }
          scores[i] = scores[parent];
          hosts[i] = hosts[parent];
          i = parent;
        }
        scores[i] = score;
        hosts[i] = host;
      } else if (worse(scores[0], hosts[0], score, host)) {
        siftDown(score, host);
      }
    }

    /** Puts (score, host) at the root in place of the worst and restores the heap below it. */
    private void siftDown(double score, HostSnapshot host) {
      int i = 0;
      while (true) {
        int child = 2 * i + 1;
        if (child >= size) {
          break;
        }
        if (child + 1 < size && worse(scores[child + 1], hosts[child + 1], scores[child], hosts[child])) {
          child++;
        }
        if (!worse(scores[child], hosts[child], score, host)) {
          break;
        }
        scores[i] = scores[child];
        hosts[i] = hosts[child];
        i = child;
      }
      scores[i] = score;
      hosts[i] = host;
    }

    /** The kept hosts, best first. */
    List<Placement.RankedHost> bestFirst() {
      // Emptying the heap yields worst first; fill from the back.
      Placement.RankedHost[] ordered = new Placement.RankedHost[size];
      for (int i = size - 1; i >= 0; i--) {
        ordered[i] = new Placement.RankedHost(hosts[0].id(), scores[0]);
        double lastScore = scores[size - 1];
        HostSnapshot lastHost = hosts[size - 1];
        size--;
        siftDown(lastScore, lastHost);
      }
      return List.of(ordered);
    }

    /** Whether (a, aHost) ranks after (b, bHost): higher score, or equal score and larger id. */
    private static boolean worse(double a, HostSnapshot aHost, double b, HostSnapshot bHost) {
      int byScore = Double.compare(a, b);
      return byScore > 0 || (byScore == 0 && aHost.id().compareTo(bHost.id()) > 0);
    }
  }

  private static String describe(
      PlacementRequest request, int hostCount, Map<HostFilter, Integer> rejections) {
    StringBuilder why = new StringBuilder();
    rejections.forEach(
        (filter, count) -> {
          if (why.length() > 0) {
            why.append("; ");
          }
          why.append(count).append(count == 1 ? " host: " : " hosts: ")
              .append(filter.reason(request));
        });
    String service = request.rules().service();
    return "no host can take a VM"
        + (service.isEmpty() ? "" : " of " + service)
        + " with "
        + request.vcpus()
        + " vCPU and "
        + request.memoryMb()
        + " MB of memory"
        + (request.diskMb() > 0 ? " (and " + request.diskMb() + " MB of disk)" : "")
        + " among "
        + hostCount
        + (hostCount == 1 ? " host (" : " hosts (")
        + why
        + ")";
  }
}
