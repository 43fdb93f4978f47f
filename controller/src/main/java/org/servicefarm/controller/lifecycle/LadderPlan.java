package org.servicefarm.controller.lifecycle;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.InstancePolicy;
import org.servicefarm.controller.model.VmState;

/**
 * What the idle ladder does with one definition's VMs: a pure function of the VMs (with their live
 * leases and since when they are idle), the definition's policy and the time, tested table-driven.
 *
 * <p>Rungs, each counted from the VM's last use: an ACTIVE VM with no live lease sleeps after
 * sleep_after, a SLEEPING one is archived after archive_after, an ARCHIVED one deleted after
 * delete_after (0: never). The warm pool: the min_active most recently used ACTIVE VMs never
 * sleep, and when fewer than min_active VMs are ACTIVE or on their way, sleeping then archived
 * VMs are woken (most recently used first) and new ones built, up to max_instances. A VM whose
 * desired state is already being carried out is left alone.
 */
public final class LadderPlan {
  private LadderPlan() {}

  /**
   * One VM of the definition.
   *
   * @param idleSince when its last lease ended or it was last used (in the future while a lease
   *     is live)
   */
  public record LadderVm(UUID id, VmState state, DesiredState desired, int liveLeases,
      Instant idleSince) {}

  /** A change of desired state and the rule that made it. */
  public record Move(UUID vmId, DesiredState to, String cause) {}

  /** The moves, and how many new VMs the warm pool needs (with why). */
  public record Plan(List<Move> moves, int provision, String provisionCause) {
    public static final Plan NOTHING = new Plan(List.of(), 0, "");
  }

  public static Plan plan(InstancePolicy policy, List<LadderVm> all, Instant now) {
    List<LadderVm> vms = all.stream()
        .filter(v -> !v.state().isFinal() && v.desired() != DesiredState.DELETED).toList();
    Comparator<LadderVm> mostRecentFirst = Comparator.comparing(LadderVm::idleSince).reversed()
        .thenComparing(LadderVm::id);
    List<LadderVm> active = vms.stream()
        .filter(v -> v.state() == VmState.ACTIVE && v.desired() == DesiredState.ACTIVE)
        .sorted(mostRecentFirst).toList();
    Set<UUID> kept = new HashSet<>();
    active.stream().limit(policy.minActive()).forEach(v -> kept.add(v.id()));

    List<Move> moves = new ArrayList<>();
    Set<UUID> moved = new HashSet<>();
    long wanted = vms.stream().filter(v -> v.desired() == DesiredState.ACTIVE).count();
    long deficit = policy.minActive() - wanted;
    // The warm pool first: a VM woken for it is not also sent further down the ladder.
    if (deficit > 0) {
      String cause = "idle ladder: min_active " + policy.minActive() + ", " + wanted
          + " VMs ACTIVE or starting";
      for (VmState asleep : List.of(VmState.SLEEPING, VmState.ARCHIVED)) {
        for (LadderVm v : vms.stream().filter(v -> v.state() == asleep && settled(v))
            .sorted(mostRecentFirst).toList()) {
          if (deficit > 0) {
            moves.add(new Move(v.id(), DesiredState.ACTIVE, cause));
            moved.add(v.id());
            deficit--;
          }
        }
      }
    }
    for (LadderVm v : vms) {
      if (moved.contains(v.id()) || !settled(v) || v.liveLeases() > 0 || kept.contains(v.id())) {
        continue;
      }
      Duration idle = Duration.between(v.idleSince(), now);
      switch (v.state()) {
        case ACTIVE -> rung(moves, v, idle, policy.sleepAfterSeconds(), DesiredState.SLEEPING,
            "sleep_after_seconds");
        case SLEEPING -> rung(moves, v, idle, policy.archiveAfterSeconds(), DesiredState.ARCHIVED,
            "archive_after_seconds");
        case ARCHIVED -> rung(moves, v, idle, policy.deleteAfterSeconds(), DesiredState.DELETED,
            "delete_after_seconds");
        default -> { } // settled only in the states above
      }
    }
    long room = policy.maxInstances() - vms.size();
    int provision = (int) Math.max(0, Math.min(deficit, room));
    String why = provision == 0 ? "" : "idle ladder: min_active " + policy.minActive() + ", "
        + wanted + " VMs ACTIVE or starting, none asleep to wake";
    return moves.isEmpty() && provision == 0 ? Plan.NOTHING : new Plan(moves, provision, why);
  }

  private static void rung(List<Move> moves, LadderVm v, Duration idle, int afterSeconds,
      DesiredState to, String setting) {
    if (afterSeconds > 0 && idle.compareTo(Duration.ofSeconds(afterSeconds)) >= 0) {
      moves.add(new Move(v.id(), to, "idle ladder: no live lease for " + idle.toSeconds()
          + " s, " + setting + " " + afterSeconds));
    }
  }

  private static boolean settled(LadderVm v) {
    return v.state() == v.desired().settled();
  }
}
