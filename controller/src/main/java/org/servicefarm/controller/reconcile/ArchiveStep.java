package org.servicefarm.controller.reconcile;

import java.time.Duration;
import java.util.EnumSet;
import java.util.Optional;
import java.util.logging.Logger;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.hosts.AgentCommands;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.placement.RestorePlacement;

/**
 * ARCHIVE: the VM recorded ARCHIVING (so a new leader resumes it), its disk sent to the archive
 * store, and the VM recorded ARCHIVED with the archive's reference, its host released. A VM
 * archived to leave a draining host is placed elsewhere in the same commit.
 */
final class ArchiveStep {
  private static final Logger LOG = Logger.getLogger(ArchiveStep.class.getName());

  private final StepTransitions transitions;
  private final CommandFactory commands;
  private final VmRepository vms;
  private final OfferRecorder offers;
  private final AgentCommands agents;
  private final RestorePlacement restores;
  private final FailedMoves failedMoves;
  private final ReconcileSteps.ArchiveSizes archiveSizes;
  private final Duration shortTimeout;
  private final Duration longTimeout;

  ArchiveStep(StepTransitions transitions, CommandFactory commands, VmRepository vms,
      OfferRecorder offers, AgentCommands agents, RestorePlacement restores,
      FailedMoves failedMoves, ReconcileSteps.ArchiveSizes archiveSizes, Duration shortTimeout,
      Duration longTimeout) {
    this.transitions = transitions;
    this.commands = commands;
    this.vms = vms;
    this.offers = offers;
    this.agents = agents;
    this.restores = restores;
    this.failedMoves = failedMoves;
    this.archiveSizes = archiveSizes;
    this.shortTimeout = shortTimeout;
    this.longTimeout = longTimeout;
  }

  boolean run(VmRecord vm) {
    VmRecord current = vm;
    if (vm.state() != VmState.ARCHIVING) {
      Optional<VmRecord> marked = transitions.mark(vm,
          EnumSet.of(VmState.ACTIVE, VmState.SLEEPING, VmState.STARTING), VmState.ARCHIVING,
          "archiving: disk to the archive store");
      if (marked.isEmpty()) {
        return false;
      }
      current = marked.get();
    }
    Optional<CommandResult> result =
        transitions.send(current, commands.archive(current), longTimeout);
    if (result.isEmpty()) {
      return false;
    }
    if (!result.get().getOk()) {
      return StepTransitions.retryable(result.get())
          ? false : failedMoves.archiveFailed(current, result.get());
    }
    String fromHost = current.hostId();
    String archiveRef = result.get().getArchiveRef();
    // Read before the transaction: the store may be a network away (S3).
    long archiveBytes = archiveSizes.bytesOf(archiveRef);
    boolean archived = transitions.commit(tx -> {
      Optional<VmRecord> moved = vms.transition(tx, vm.id(), EnumSet.of(VmState.ARCHIVING),
          VmState.ARCHIVED, "archived from host " + fromHost,
          VmRepository.Change.archived(archiveRef));
      if (moved.isEmpty()) {
        return moved;
      }
      offers.clearHostPorts(tx, vm.id());
      if (archiveBytes >= 0) {
        vms.setArchiveBytes(tx, vm.id(), archiveBytes); // the project's stored bytes
      }
      commands.signArchive(tx, vm.id(), archiveRef);
      // A VM archived to leave a draining host is placed elsewhere in the same commit.
      return Optional.of(restores.afterArchived(tx, moved.get(), fromHost));
    });
    if (archived) {
      forgetArchiveOn(fromHost, current);
    }
    return archived;
  }

  /**
   * The archiving host kept the archive's reference to answer a repeated archive command. Once
   * the table holds it, the host's leftovers of the VM go: a delete of a VM it no longer runs.
   * Sent before any restore of the VM, so the agent (serial per VM) never mixes the two.
   */
  private void forgetArchiveOn(String hostId, VmRecord vm) {
    agents.agent(hostId).ifPresent(agent -> agent.send(commands.delete(vm).toBuilder()
            .setCommandId(vm.id() + ":" + vm.generation() + ":forget-archive").build(),
            shortTimeout, null)
        .whenComplete((result, error) -> {
          if (error != null || !result.getOk()) {
            LOG.warning("host " + hostId + " kept leftovers of archived VM " + vm.id() + ": "
                + (error != null ? error.getMessage() : result.getError()));
          }
        }));
  }
}
