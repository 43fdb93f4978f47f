package org.servicefarm.controller.reconcile;

import java.time.Duration;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/**
 * DELETE and FORGET_ARCHIVED: the VM recorded DELETING (so a new leader resumes it), its domain,
 * disks and saved state removed from its host, and the VM recorded DELETED without offers; an
 * archived VM, on no host, is recorded DELETED at once.
 */
final class DeleteStep {
  private final StepTransitions transitions;
  private final CommandFactory commands;
  private final Duration timeout;

  DeleteStep(StepTransitions transitions, CommandFactory commands, Duration timeout) {
    this.transitions = transitions;
    this.commands = commands;
    this.timeout = timeout;
  }

  boolean delete(VmRecord vm) {
    VmRecord current = vm;
    if (vm.state() != VmState.DELETING) {
      Set<VmState> from = EnumSet.complementOf(EnumSet.of(VmState.DELETED, VmState.FAILED,
          VmState.ARCHIVED, VmState.DELETING, VmState.UNKNOWN));
      Optional<VmRecord> marked = transitions.mark(vm, from, VmState.DELETING, "deleting");
      if (marked.isEmpty()) {
        return false;
      }
      current = marked.get();
    }
    Optional<CommandResult> result = transitions.send(current, commands.delete(current), timeout);
    if (result.isEmpty()) {
      return false;
    }
    if (!result.get().getOk()) {
      return transitions.fail(current, VmState.DELETING, result.get());
    }
    return transitions.record(current, EnumSet.of(VmState.DELETING), VmState.DELETED,
        "domain, disks and saved state removed from host " + current.hostId(),
        VmRepository.Change.host(null), true);
  }

  boolean forgetArchived(VmRecord vm) {
    return transitions.record(vm, EnumSet.of(VmState.ARCHIVED), VmState.DELETED,
        "deleted while archived", VmRepository.Change.NONE, true);
  }
}
