package org.servicefarm.controller.placement;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.db.PlacementRuleRepository;
import org.servicefarm.controller.model.PlacementPolicy;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.hosts.AgentSession;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.HostRecord;
import org.servicefarm.controller.placement.HostSnapshot;
import org.servicefarm.controller.placement.Placement;
import org.servicefarm.controller.placement.PlacementRequest;
import org.servicefarm.controller.placement.PlacementScheduler;

/**
 * Optimistic placement, verified at commit: rank hosts on a snapshot (a {@link HostView} at most
 * a second old), then, inside the caller's
 * transaction, lock the best host's row, re-check its room with fresh allocations, and record the
 * VM there. A host that filled up meanwhile is skipped for the next one, among the scheduler's
 * best {@link PlacementScheduler#CANDIDATES}; when all of them filled up, the request is answered
 * NoCapacity with a hint to retry on a fresh snapshot.
 */
public final class Placer {

  /** Records the VM on the chosen host inside the placing transaction. */
  @FunctionalInterface
  public interface Commit<T> {
    T onHost(Database.Tx tx, String hostId) throws SQLException;
  }

  /**
   * What a VM of the image needs from a host: its vCPUs and memory, and disk for the image and
   * for its memory once it sleeps (a host without that room is not chosen).
   */
  public static PlacementRequest request(Database.Tx tx, ImageDigests images,
      java.util.UUID imageId, int vcpus, long memoryMb) throws SQLException {
    return new PlacementRequest(vcpus, memoryMb, images.digest(tx, imageId),
        PlacementRequest.diskMbFor(images.sizeBytes(tx, imageId), memoryMb));
  }

  /**
   * The placement rules of the definition's VMs of the project: its constraints and spread, and
   * where its VMs are now (spread and anti-affinity weigh them). Read inside the placing
   * transaction, which holds the definition's lock, so concurrent placements of one definition
   * see each other's VMs.
   */
  public PlacementRules rules(Database.Tx tx, String definition, String project)
      throws SQLException {
    PlacementPolicy policy = ruleRepository.find(tx, definition);
    return new PlacementRules(definition, policy.constraints(),
        policy.spreads()
            ? new SpreadRule(policy.spreadBy(), policy.spreadHard(), policy.spreadMaxSkew())
            : null,
        ruleRepository.instancesPerHost(tx, definition, project));
  }

  /** Scores this close to the best host's count as equally good (see {@link #spread}). */
  static final double SPREAD_BAND = 0.01;

  private final HostRepository hosts;
  private final AgentRegistry agents;
  private final PlacementScheduler scheduler;
  private final HostView book;
  private final PlacementRuleRepository ruleRepository = new PlacementRuleRepository();

  public Placer(HostRepository hosts, AgentRegistry agents, PlacementScheduler scheduler) {
    this.hosts = hosts;
    this.agents = agents;
    this.scheduler = scheduler;
    this.book = new HostView(hosts, System::nanoTime);
  }

  public <T> T place(Database.Tx tx, PlacementRequest request, Commit<T> commit)
      throws SQLException {
    Optional<T> placed = tryPlace(tx, request, commit, false);
    if (placed.isEmpty()) {
      // The view may predate a host that just registered or VMs that just left: once more on
      // the table as it is now, before telling the caller there is no room.
      book.invalidate();
      placed = tryPlace(tx, request, commit, true);
    }
    return placed.orElseThrow(() -> new FarmException.NoCapacity(
        "every one of the best hosts that had room for a VM with "
            + request.vcpus()
            + " vCPU and "
            + request.memoryMb()
            + " MB filled up while placing it; try again"));
  }

  /** The VM recorded on a host, or empty when the view's best hosts turned out full. */
  private <T> Optional<T> tryPlace(Database.Tx tx, PlacementRequest request, Commit<T> commit,
      boolean lastTry) throws SQLException {
    List<HostSnapshot> snapshot = snapshot(book.current(tx));
    // The spread is counted on the whole snapshot once, so the check at commit, which sees one
    // host, holds it to the same counts.
    PlacementRequest ruled = request.withRules(request.rules().prepared(snapshot));
    Placement placement = scheduler.place(ruled, snapshot);
    if (placement instanceof Placement.NoHost none) {
      if (!lastTry) {
        return Optional.empty();
      }
      throw noHostFailure(none);
    }
    List<Placement.RankedHost> order = spread(((Placement.Ranked) placement).hosts());
    // First the hosts no other placement holds now: waiting for a busy host's row means waiting
    // for that placement's commit, and simultaneous placements would queue behind each other.
    for (boolean wait : new boolean[] {false, true}) {
      for (Placement.RankedHost candidate : order) {
        HostRecord fresh = (wait ? hosts.lockForPlacement(tx, candidate.hostId())
            : hosts.lockForPlacementIfFree(tx, candidate.hostId())).orElse(null);
        if (fresh != null
            && scheduler.place(ruled, snapshot(List.of(fresh))) instanceof Placement.Ranked) {
          T recorded = commit.onHost(tx, fresh.id());
          book.placed(fresh.id(), request.vcpus(), request.memoryMb());
          return Optional.of(recorded);
        }
      }
    }
    return Optional.empty();
  }

  /**
   * Why no host takes the VM, as the failure the caller sees: full hosts are NO_CAPACITY (room
   * may come); hosts that cannot take VMs now (down, draining, disconnected) UNAVAILABLE (they may
   * come back); and hosts that only a definition's label constraints ruled out a CONFLICT
   * (FAILED_PRECONDITION): no retry helps until an admin labels a host to match.
   */
  static FarmException noHostFailure(Placement.NoHost none) {
    if (!none.noHosts() && none.rejections().keySet().stream().anyMatch(HostFilter::capacity)) {
      return new FarmException.NoCapacity(none.message());
    }
    if (!none.noHosts() && none.rejections().keySet().equals(Set.of(HostFilter.LABEL_CONSTRAINT))) {
      return new FarmException.Conflict(none.message());
    }
    return new FarmException.Unavailable(none.message());
  }

  /**
   * The order to try the ranked hosts in: those within {@link #SPREAD_BAND} of the best, shuffled,
   * then the rest as ranked. Requests placed at the same moment see the same view; trying the one
   * best host first would pile them onto it (and serialise them on its row lock). The band is less
   * than one small VM's worth of load (256 MB and a vCPU on a 16 GB, 16-vCPU host score 0.0125):
   * the view counts every VM this controller placed the moment it was placed (HostView), so only
   * placements decided at the very same moment need spreading, and a wider band would itself make
   * hosts uneven by the VMs it spans.
   */
  static List<Placement.RankedHost> spread(List<Placement.RankedHost> ranked) {
    if (ranked.size() < 2) {
      return ranked;
    }
    double limit = ranked.get(0).score() + SPREAD_BAND;
    int near = 1;
    while (near < ranked.size() && ranked.get(near).score() <= limit) {
      near++;
    }
    List<Placement.RankedHost> order = new ArrayList<>(ranked);
    java.util.Collections.shuffle(order.subList(0, near),
        java.util.concurrent.ThreadLocalRandom.current());
    return order;
  }

  /** The hosts as the table holds them now, for reclaim (see {@link Reclaimer}). */
  List<HostSnapshot> freshSnapshot(Database.Tx tx) throws SQLException {
    book.invalidate();
    return snapshot(book.current(tx));
  }

  /** An agent that has not reported its free disk (0) is not held to it. */
  private static long diskFreeMb(HostRecord.HostLoad load) {
    return load.diskFreeMb() > 0 ? load.diskFreeMb() : HostSnapshot.DISK_UNKNOWN;
  }

  private List<HostSnapshot> snapshot(List<HostRecord> rows) {
    List<HostSnapshot> out = new ArrayList<>(rows.size());
    for (HostRecord h : rows) {
      AgentSession session = agents.session(h.id()).orElse(null);
      out.add(
          new HostSnapshot(
              h.id(),
              h.status(),
              session != null,
              h.capacityVcpus(),
              h.capacityMemoryMb(),
              h.allocatedVcpus(),
              h.allocatedMemoryMb(),
              session != null ? session.load().cpuPercent() : h.load().cpuPercent(),
              session != null ? session.cachedImages() : Set.of(),
              diskFreeMb(session != null ? session.load() : h.load()),
              h.labels(),
              h.cpuOvercommit(),
              h.memoryOvercommit()));
    }
    return out;
  }
}
