package org.servicefarm.controller.placement;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.db.LeaseRepository;
import org.servicefarm.controller.db.ReclaimRepository;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.HostRecord;
import org.servicefarm.controller.model.VmRecord;

/**
 * Makes room for a VM no host has room for: decides on the hosts as they are ({@link
 * ReclaimPlan}), then, under the chosen host's placement lock (the lock every placement on it
 * takes), decides again on fresh figures and records, in the caller's transaction, the new VM on
 * the host, the VMs to archive wanted ARCHIVED (their leases ended when they are preempted), and
 * a RECLAIM event naming them. The reconciler archives them through the usual archive step, and
 * the new VM, marked as waiting for room, installs or restores once the VMs leaving its host are
 * gone (see reconcile's ReclaimGate), so the request that asked waits instead of failing.
 *
 * <p>Room already promised is not counted twice: VMs leaving a host are counted as gone, and the
 * VMs placed to take their room already count in the host's allocations. A VM a request is being
 * decided for (its definition's lock held by another transaction) is not taken, and the live
 * leases of the VMs taken are read under their definitions' locks, so no lease is granted on them
 * until the archive is recorded.
 */
public final class Reclaimer {
  /** How a reclaim ended: the VM placed, or why no room could be made. */
  public record Outcome<T>(Optional<T> placed, String whyNot) {}

  private static final int ATTEMPTS = 3;

  private final Placer placer;
  private final HostRepository hosts;
  private final ReclaimRepository reclaims;
  private final ReservationCheck reservations;
  private final VmRepository vms;
  private final LeaseRepository leases;
  private final EventRepository events;
  private final double cpuOvercommit;

  public Reclaimer(Placer placer, HostRepository hosts, ReclaimRepository reclaims,
      ReservationCheck reservations, VmRepository vms, LeaseRepository leases,
      EventRepository events, double cpuOvercommit) {
    this.placer = placer;
    this.hosts = hosts;
    this.reclaims = reclaims;
    this.reservations = reservations;
    this.vms = vms;
    this.leases = leases;
    this.events = events;
    this.cpuOvercommit = cpuOvercommit;
  }

  /**
   * @param farm the farm's shortfall under other projects' reservations, which the room made must
   *     cover as well
   * @param claimant who the room is for, for the events ("VM of service x for project p")
   * @param placedId the id of the VM a commit recorded (empty: it recorded none)
   */
  public <T> Outcome<T> reclaim(Database.Tx tx, PlacementRequest request, ReclaimPlan.Claim claim,
      ReservationCheck.FarmShortfall farm, String claimant, Placer.Commit<T> commit,
      Function<T, Optional<UUID>> placedId) throws SQLException {
    Set<String> excluded = new HashSet<>();
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
      List<HostSnapshot> snapshot = placer.freshSnapshot(tx);
      // The definition's spread counted on this snapshot, as the scheduler counts it.
      PlacementRequest onSnapshot = request.withRules(request.rules().prepared(snapshot));
      List<HostSnapshot> eligible = snapshot.stream()
          .filter(h -> !excluded.contains(h.id()) && roomCanBeMadeOn(onSnapshot, h)).toList();
      if (eligible.isEmpty()) {
        return new Outcome<>(Optional.empty(), "no host could take the VM even with room made"
            + " (down, draining, disconnected or short of disk)");
      }
      Optional<ReclaimPlan.Plan> plan = plan(tx, request, claim, farm, eligible, Set.of());
      if (plan.isEmpty()) {
        return new Outcome<>(Optional.empty(), "archiving VMs would not make room: no host holds"
            + " enough idle VMs of priority " + claim.priority() + " or lower (or preemptible"
            + " VMs of a lower priority) outside other projects' reservations");
      }
      String hostId = plan.get().hostId();
      HostRecord fresh = hosts.lockForPlacement(tx, hostId).orElse(null);
      Optional<ReclaimPlan.Plan> confirmed = fresh == null ? Optional.empty()
          : confirm(tx, request, claim, farm, fresh, eligible);
      if (confirmed.isPresent()) {
        return new Outcome<>(Optional.of(apply(tx, confirmed.get(), claim, claimant, commit,
            placedId)), "");
      }
      excluded.add(hostId);
    }
    return new Outcome<>(Optional.empty(), "the hosts where room could be made filled up while"
        + " making it; try again");
  }

  /** The plan for one host decided again under its lock, with its VMs' definitions locked. */
  private Optional<ReclaimPlan.Plan> confirm(Database.Tx tx, PlacementRequest request,
      ReclaimPlan.Claim claim, ReservationCheck.FarmShortfall farm, HostRecord fresh,
      List<HostSnapshot> eligible) throws SQLException {
    HostSnapshot before = eligible.stream().filter(h -> h.id().equals(fresh.id())).findFirst()
        .orElseThrow();
    HostSnapshot now = new HostSnapshot(fresh.id(), fresh.status(), before.connected(),
        fresh.capacityVcpus(), fresh.capacityMemoryMb(), fresh.allocatedVcpus(),
        fresh.allocatedMemoryMb(), before.cpuPercent(), before.cachedImages(),
        before.diskFreeMb(), fresh.labels(), fresh.cpuOvercommit(), fresh.memoryOvercommit());
    Set<String> busy = new HashSet<>();
    for (ReclaimRepository.Resident r : reclaims.residents(tx, List.of(fresh.id()))) {
      if (ReclaimPlan.mayGo(claim, toPlan(r)) && !busy.contains(r.definition())
          && !reclaims.tryLockDefinition(tx, r.definition())) {
        busy.add(r.definition());
      }
    }
    // Leases read after the locks: none can be granted on these VMs until this commits.
    return plan(tx, request, claim, farm, List.of(now), busy);
  }

  private Optional<ReclaimPlan.Plan> plan(Database.Tx tx, PlacementRequest request,
      ReclaimPlan.Claim claim, ReservationCheck.FarmShortfall farm, List<HostSnapshot> onHosts,
      Set<String> busyDefinitions) throws SQLException {
    List<String> ids = onHosts.stream().map(HostSnapshot::id).toList();
    Map<String, long[]> leaving = reclaims.leaving(tx, ids);
    List<ReclaimPlan.Shortfall> shortfalls = new ArrayList<>();
    for (HostSnapshot h : onHosts) {
      long[] gone = leaving.getOrDefault(h.id(), new long[2]);
      long vcpus = h.allocatedVcpus() - gone[0] + request.vcpus()
          - (long) Math.floor(h.vcpuLimit(cpuOvercommit));
      long memory = h.allocatedMemoryMb() - gone[1] + request.memoryMb() - h.memoryLimitMb();
      shortfalls.add(new ReclaimPlan.Shortfall(h.id(), (int) Math.max(vcpus, farm.vcpus()),
          Math.max(memory, farm.memoryMb())));
    }
    List<ReclaimPlan.Resident> residents = reclaims.residents(tx, ids).stream()
        .filter(r -> !busyDefinitions.contains(r.definition())).map(Reclaimer::toPlan).toList();
    return ReclaimPlan.plan(claim, shortfalls, residents,
        reservations.spare(tx, claim.project()));
  }

  private <T> T apply(Database.Tx tx, ReclaimPlan.Plan plan, ReclaimPlan.Claim claim,
      String claimant, Placer.Commit<T> commit, Function<T, Optional<UUID>> placedId)
      throws SQLException {
    T placed = commit.onHost(tx, plan.hostId());
    Optional<UUID> forVm = placedId.apply(placed);
    if (forVm.isEmpty()) {
      return placed; // the commit recorded nothing (the VM changed meanwhile): nothing to make room for
    }
    String forWhom = "VM " + forVm.get() + " (" + claimant + ", priority " + claim.priority()
        + ")";
    for (ReclaimPlan.Resident r : plan.victims()) {
      VmRecord vm = vms.find(tx, r.vmId()).orElseThrow();
      String why = (r.inUse() ? "preempted" : "reclaimed") + " to make room on host "
          + plan.hostId() + " for " + forWhom + ": priority " + r.priority()
          + (r.inUse() ? ", preemptible, " + r.liveLeases() + " live leases"
              : ", idle since " + r.lastUsed());
      if (r.inUse()) {
        leases.endLive(tx, r.vmId(), why);
      }
      vms.setDesired(tx, vm, DesiredState.ARCHIVED, why);
      reclaims.markReclaimed(tx, r.vmId(), forVm.get());
    }
    reclaims.waitForRoom(tx, forVm.get());
    events.append(tx, "RECLAIM", forVm.get(), plan.hostId(), null, null, null,
        plan.victims().isEmpty()
            ? "placed on host " + plan.hostId() + " once the VMs leaving it are gone, for "
                + forWhom
            : "archiving " + describe(plan.victims()) + " on host " + plan.hostId()
                + " to make room for " + forWhom);
    return placed;
  }

  private static String describe(List<ReclaimPlan.Resident> victims) {
    return victims.stream().map(r -> "VM " + r.vmId() + " (" + r.definition() + ", project "
        + r.project() + ", priority " + r.priority() + (r.inUse() ? ", preempted" : ", idle")
        + ")").collect(Collectors.joining(", "));
  }

  /** Whether only room keeps the host from taking the VM (it is up, connected, has the disk). */
  private boolean roomCanBeMadeOn(PlacementRequest request, HostSnapshot host) {
    for (HostFilter filter : HostFilter.PIPELINE) {
      if (filter != HostFilter.FREE_MEMORY && filter != HostFilter.FREE_VCPUS
          && filter.rejects(request, host, cpuOvercommit)) {
        return false;
      }
    }
    return true;
  }

  private static ReclaimPlan.Resident toPlan(ReclaimRepository.Resident r) {
    return new ReclaimPlan.Resident(r.vmId(), r.hostId(), r.project(), r.definition(),
        r.priority(), r.preemptible(), r.liveLeases(), r.lastUsed(), r.vcpus(), r.memoryMb());
  }
}
