package org.servicefarm.controller.reconcile;

import java.time.Duration;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.PowerState;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.OperationPhase;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.operations.OperationTracker;
import org.servicefarm.controller.operations.WakeTimelines;

/**
 * START, RESUME and SUSPEND: a VM booted or woken (recorded ACTIVE with the ports its guest
 * listens on, once the agent says they listen), or put to sleep (its memory saved to disk).
 */
final class PowerStep {
  private final StepTransitions transitions;
  private final CommandFactory commands;
  private final OfferRecorder offers;
  private final VmRepository vms;
  private final OperationTracker operations;
  private final FailedMoves failedMoves;
  private final Duration timeout;

  PowerStep(StepTransitions transitions, CommandFactory commands, OfferRecorder offers,
      VmRepository vms, OperationTracker operations, FailedMoves failedMoves, Duration timeout) {
    this.transitions = transitions;
    this.commands = commands;
    this.offers = offers;
    this.vms = vms;
    this.operations = operations;
    this.failedMoves = failedMoves;
    this.timeout = timeout;
  }

  boolean start(VmRecord vm) {
    operations.entered(vm.id(), OperationPhase.BOOTING, "booting on host " + vm.hostId());
    return activate(vm, commands.start(vm), VmState.STARTING, "started");
  }

  boolean resume(VmRecord vm) {
    WakeTimelines wakes = operations.wakes();
    wakes.mark(vm.id(), WakeTimelines.Hop.COMMAND_SENT);
    Optional<CompletableFuture<CommandResult>> sent =
        transitions.sendAsync(vm, commands.resume(vm), timeout);
    // The requests' phase is written while the host restores, not before it is asked to.
    operations.entered(vm.id(), OperationPhase.WAKING, "waking on host " + vm.hostId());
    Optional<CommandResult> result = sent.map(StepTransitions::await);
    result.ifPresent(r -> wakes.agentAnswered(vm.id(), r));
    return activate(vm, result, VmState.SLEEPING, "woken from managed save");
  }

  boolean suspend(VmRecord vm) {
    Optional<CommandResult> result = transitions.send(vm, commands.suspend(vm), timeout);
    if (result.isEmpty()) {
      return false;
    }
    if (!result.get().getOk()) {
      return StepTransitions.retryable(result.get())
          ? false : failedMoves.sleepFailed(vm, result.get());
    }
    return transitions.record(vm, EnumSet.of(VmState.ACTIVE), VmState.SLEEPING,
        "memory saved to disk", VmRepository.Change.NONE, false);
  }

  private boolean activate(VmRecord vm, Command command, VmState from, String cause) {
    return activate(vm, transitions.send(vm, command, timeout), from, cause);
  }

  /** Records what the command's result says: ACTIVE with its ports, or FAILED. */
  private boolean activate(VmRecord vm, Optional<CommandResult> result, VmState from,
      String cause) {
    if (result.isEmpty()) {
      return false;
    }
    if (!result.get().getOk()
        || result.get().getStatus().getPower() != PowerState.POWER_STATE_RUNNING) {
      return transitions.fail(vm, from, result.get());
    }
    if (from == VmState.STARTING) { // a start, not a wake from SLEEPING
      Failpoints.hit("provision.booted");
    }
    DomainStatus status = result.get().getStatus();
    // A wake that had to boot from the disk (its saved memory missing or unreadable) says so.
    String notice = result.get().getNotice();
    String recorded = notice.isEmpty() ? cause : "woken without its memory on host "
        + vm.hostId() + ": " + notice;
    return transitions.commit(tx -> {
      Optional<VmRecord> moved =
          vms.transition(tx, vm.id(), Set.of(from), VmState.ACTIVE, recorded);
      if (moved.isPresent()) {
        offers.record(tx, moved.get(), status.getPortsList());
      }
      return moved;
    });
  }
}
