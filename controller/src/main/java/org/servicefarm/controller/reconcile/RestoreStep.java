package org.servicefarm.controller.reconcile;

import java.time.Duration;
import java.util.EnumSet;
import java.util.Optional;
import org.servicefarm.api.v1.CommandError;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.OperationPhase;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.operations.OperationTracker;
import org.servicefarm.controller.placement.RestorePlacement;

/**
 * PLACE_FOR_RESTORE and RESTORE: an archived VM wanted again placed on a host with room and
 * recorded RESTORING there, then its disk brought back from the archive and the VM recorded
 * STARTING.
 */
final class RestoreStep {
  private final StepTransitions transitions;
  private final CommandFactory commands;
  private final RestorePlacement restores;
  private final OperationTracker operations;
  private final FailedMoves failedMoves;
  private final Duration timeout;

  RestoreStep(StepTransitions transitions, CommandFactory commands, RestorePlacement restores,
      OperationTracker operations, FailedMoves failedMoves, Duration timeout) {
    this.transitions = transitions;
    this.commands = commands;
    this.restores = restores;
    this.operations = operations;
    this.failedMoves = failedMoves;
    this.timeout = timeout;
  }

  boolean place(VmRecord vm) {
    operations.entered(vm.id(), OperationPhase.PLACING, "choosing a host to restore on");
    return transitions.commit(tx -> restores.placeArchived(tx, vm, ""));
  }

  boolean restore(VmRecord vm) {
    operations.entered(vm.id(), OperationPhase.RESTORING, "restoring on host " + vm.hostId());
    Optional<CommandResult> result = transitions.send(vm, commands.restore(vm), timeout,
        ProgressReports.restore(operations, vm));
    if (result.isEmpty()) {
      return false;
    }
    if (!result.get().getOk()
        && result.get().getErrorKind() == CommandError.COMMAND_ERROR_NO_SPACE) {
      return failedMoves.restoreFailedForRoom(vm, result.get());
    }
    if (!result.get().getOk()) {
      return transitions.fail(vm, VmState.RESTORING, result.get());
    }
    return transitions.record(vm, EnumSet.of(VmState.RESTORING), VmState.STARTING,
        "restored from the archive on host " + vm.hostId(), VmRepository.Change.NONE, false);
  }
}
