package org.servicefarm.controller.broker;

import java.util.List;
import org.servicefarm.controller.db.CatalogRepository.ServiceRoute;
import org.servicefarm.controller.db.RequestRoutes.Candidate;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.VmState;

/**
 * What the request method does for one request, decided from what its locked reads found (the
 * service's route and its definition's VMs): a pure function, so each branch of the request
 * method (docs/architecture.md, "The request method") is a row of a table test. The
 * {@link RequestDecider} carries the plan out in the same transaction.
 */
sealed interface RequestPlan {

  /** No service of that name is visible to the caller: NOT_FOUND naming it. */
  record NotFound(String service) implements RequestPlan {}

  /**
   * The definition's lock was taken shared, but this request must choose among VMs, wake one or
   * build one: it decides again holding the lock exclusive. Nothing was written.
   */
  record TakeExclusiveLock() implements RequestPlan {}

  /**
   * The warm path: a running, reachable VM with room; lease it and answer at once.
   *
   * @param sharedLockSuffices the next requests for the service may take the lock shared again
   */
  record AnswerNow(Candidate vm, boolean sharedLockSuffices) implements RequestPlan {}

  /** A VM that is coming: want it ACTIVE, hold a lease on it, and answer when it serves. */
  record WaitFor(Candidate vm, Branch branch) implements RequestPlan {}

  /**
   * No VM has room: build one.
   *
   * @param others the definition's VMs beside it that are not on their way out
   */
  record Build(long others, int maxInstances) implements RequestPlan {}

  /** The only VM left is on a host that stopped reporting: UNAVAILABLE, nothing built. */
  record HostDown(Candidate vm) implements RequestPlan {}

  /** Why a request waits for a VM: what the VM is doing before it can serve. */
  enum Branch {
    /** On its way to ACTIVE already (being built or started): join it. */
    WAIT,
    /** Sleeping (or being put to sleep): woken where it is. */
    WAKE,
    /** Archived (or being archived): restored, maybe on another host. */
    RESTORE
  }

  /**
   * The plan for a request.
   *
   * @param route the service's route, null when no service of the name is visible
   * @param exclusiveHeld whether the request holds its definition's lock exclusive
   */
  static RequestPlan of(String service, ServiceRoute route, List<Candidate> candidates,
      boolean exclusiveHeld) {
    if (route == null) {
      return new NotFound(service);
    }
    InstanceChoice.Choice choice = InstanceChoice.choose(
        candidates.stream().map(RequestPlan::choosable).toList(), route.policy());
    boolean sharedSuffices = route.policy().maxLeasesPerVm() == 0
        && choice.action() == InstanceChoice.Action.ANSWER
        && candidates.stream().filter(Candidate::warm).count() == 1;
    if (!sharedSuffices && !exclusiveHeld) {
      return new TakeExclusiveLock();
    }
    Candidate chosen = candidates.stream()
        .filter(c -> c.vm().id().equals(choice.vmId())).findFirst().orElse(null);
    return switch (choice.action()) {
      case ANSWER -> new AnswerNow(chosen, sharedSuffices);
      case JOIN -> new WaitFor(chosen, Branch.WAIT);
      case WAKE -> new WaitFor(chosen, chosen.vm().state() == VmState.ARCHIVED
          || chosen.vm().state() == VmState.ARCHIVING ? Branch.RESTORE : Branch.WAKE);
      case CREATE -> new Build(candidates.stream().filter(c -> !c.vm().state().isFinal()
          && c.vm().desiredState() != DesiredState.DELETED).count(),
          route.policy().maxInstances());
      case HOST_DOWN -> new HostDown(chosen);
    };
  }

  private static InstanceChoice.Candidate choosable(Candidate c) {
    return new InstanceChoice.Candidate(c.vm().id(), c.vm().state(), c.vm().desiredState(),
        c.liveLeases(), c.hostCpuPercent() / 100.0 + c.hostAllocatedMemoryMb() / 1_000_000.0,
        c.hostAddress() != null && c.hostPort() != null);
  }
}
