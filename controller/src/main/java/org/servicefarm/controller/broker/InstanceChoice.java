package org.servicefarm.controller.broker;

import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Predicate;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.InstancePolicy;
import org.servicefarm.controller.model.VmState;

/**
 * Which of a definition's VMs a request is answered with: a pure function of the VMs (with their
 * live leases and host load) and the definition's policy, so the choice is tested table-driven.
 *
 * <p>In order: a running VM with room for another lease (fewest leases, then lowest host load,
 * then id, so equal VMs share the load and the pick is stable); a VM on its way to running with
 * room; a sleeping or archived VM with room (waking beats building); a new VM while the
 * definition has fewer than max_instances; at max_instances, the least-leased VM anyway.
 */
public final class InstanceChoice {
  private InstanceChoice() {}

  /**
   * One VM of the definition as the request sees it.
   *
   * @param reachable whether its host forwards a port to the service now
   */
  public record Candidate(UUID vmId, VmState state, DesiredState desired, int liveLeases,
      double hostLoad, boolean reachable) {}

  /** What the request does with the chosen VM. */
  public enum Action {
    /** Running and reachable: grant a lease and answer at once. */
    ANSWER,
    /** On its way to ACTIVE already: hold a lease on it and wait. */
    JOIN,
    /** Sleeping, archived, or being put away: want it ACTIVE again and wait. */
    WAKE,
    /** Build a new VM. */
    CREATE,
    /** The only VM left is on a host that stopped reporting: answer UNAVAILABLE, build nothing. */
    HOST_DOWN
  }

  /** The decision; {@code vmId} is null for CREATE. */
  public record Choice(Action action, UUID vmId) {}

  /** How a candidate counts for the choice. */
  private enum Kind { GONE, WARM, COMING, ASLEEP, DOWN }

  public static Choice choose(List<Candidate> vms, InstancePolicy policy) {
    long instances = vms.stream().filter(c -> kind(c) != Kind.GONE).count();
    Predicate<Candidate> room = c -> policy.hasRoom(c.liveLeases());

    Optional<Candidate> warm = least(vms, c -> kind(c) == Kind.WARM && room.test(c));
    if (warm.isPresent()) {
      return new Choice(Action.ANSWER, warm.get().vmId());
    }
    Optional<Candidate> coming = least(vms, c -> kind(c) == Kind.COMING && room.test(c));
    if (coming.isPresent()) {
      return new Choice(Action.JOIN, coming.get().vmId());
    }
    Optional<Candidate> asleep = quickestToWake(vms, room);
    if (asleep.isPresent()) {
      return new Choice(Action.WAKE, asleep.get().vmId());
    }
    if (instances < policy.maxInstances()) {
      return new Choice(Action.CREATE, null);
    }
    // At max_instances every VM is full: share the load anyway rather than refuse.
    Optional<Candidate> any = least(vms, c -> kind(c) == Kind.WARM || kind(c) == Kind.COMING);
    if (any.isPresent()) {
      return new Choice(kind(any.get()) == Kind.WARM ? Action.ANSWER : Action.JOIN, any.get().vmId());
    }
    Optional<Candidate> full = quickestToWake(vms, c -> true);
    if (full.isPresent()) {
      return new Choice(Action.WAKE, full.get().vmId());
    }
    Optional<Candidate> down = vms.stream().filter(c -> kind(c) == Kind.DOWN).findFirst();
    if (down.isPresent()) {
      return new Choice(Action.HOST_DOWN, down.get().vmId());
    }
    // Unreachable while maxInstances >= 1: with no usable VM, instances is 0.
    return new Choice(Action.CREATE, null);
  }

  private static Kind kind(Candidate c) {
    if (c.desired() == DesiredState.DELETED || c.state().isFinal()) {
      return Kind.GONE; // on its way out: not handed out, not counted
    }
    if (c.state() == VmState.UNKNOWN) {
      return Kind.DOWN;
    }
    if (c.desired() != DesiredState.ACTIVE) {
      return Kind.ASLEEP;
    }
    return c.state() == VmState.ACTIVE && c.reachable() ? Kind.WARM : Kind.COMING;
  }

  /** Fewest leases, then running before starting, then lowest host load, then id. */
  private static Optional<Candidate> least(List<Candidate> vms, Predicate<Candidate> which) {
    return vms.stream().filter(which).min(Comparator.comparingInt(Candidate::liveLeases)
        .thenComparing(c -> kind(c) == Kind.WARM ? 0 : 1)
        .thenComparingDouble(Candidate::hostLoad)
        .thenComparing(Candidate::vmId));
  }

  private static Optional<Candidate> quickestToWake(List<Candidate> vms, Predicate<Candidate> room) {
    return vms.stream().filter(c -> kind(c) == Kind.ASLEEP && room.test(c))
        .min(Comparator.comparingInt(InstanceChoice::wakeCost)
            .thenComparingInt(Candidate::liveLeases)
            .thenComparing(Candidate::vmId));
  }

  /** Still running beats asleep in memory on disk, which beats archived (restored anywhere). */
  private static int wakeCost(Candidate c) {
    return switch (c.state()) {
      case ACTIVE, STARTING, PROVISIONING -> 0;
      case SLEEPING -> 1;
      case ARCHIVING -> 2;
      default -> 3;
    };
  }
}
