package org.servicefarm.controller.reconcile;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import java.util.logging.Logger;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.CommandError;
import org.servicefarm.api.v1.CommandProgress;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.FencedDatabase;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.hosts.AgentCommands;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/**
 * What every step executor shares: sending the VM's host its command and waiting for the result
 * (no transaction is held while an agent works), and recording what came of it as the leader, in
 * one short transaction whose resulting row the VM's waiters hear.
 */
final class StepTransitions {
  private static final Logger LOG = Logger.getLogger(StepTransitions.class.getName());

  private final FencedDatabase db;
  private final VmRepository vms;
  private final OfferRecorder offers;
  private final AgentCommands agents;
  private final VmStateWatcher watcher;

  StepTransitions(FencedDatabase db, VmRepository vms, OfferRecorder offers, AgentCommands agents,
      VmStateWatcher watcher) {
    this.db = db;
    this.vms = vms;
    this.offers = offers;
    this.agents = agents;
    this.watcher = watcher;
  }

  /** The host's agent, or Unavailable naming the VM when it is not connected. */
  AgentCommands.ConnectedAgent agentOf(VmRecord vm) {
    return agents.agent(vm.hostId()).orElseThrow(() -> new FarmException.Unavailable(
        "host " + vm.hostId() + " of VM " + vm.id() + " is not connected"));
  }

  /** Sends the command to the VM's host; empty when the VM has no host. */
  Optional<CommandResult> send(VmRecord vm, Command command, Duration timeout) {
    return send(vm, command, timeout, null);
  }

  /**
   * As {@link #send(VmRecord, Command, Duration)}, with the command's progress reports to
   * {@code progress}.
   *
   * @throws FarmException.Unavailable when the host is not connected or did not answer
   */
  Optional<CommandResult> send(VmRecord vm, Command command, Duration timeout,
      Consumer<CommandProgress> progress) {
    return sendAsync(vm, command, timeout, progress).map(StepTransitions::await);
  }

  /**
   * Sends the command without waiting for its result, so the caller can do other work while the
   * host works; empty when the VM has no host. {@link #await} waits for the result.
   *
   * @throws FarmException.Unavailable when the host is not connected
   */
  Optional<CompletableFuture<CommandResult>> sendAsync(VmRecord vm, Command command,
      Duration timeout) {
    return sendAsync(vm, command, timeout, null);
  }

  private Optional<CompletableFuture<CommandResult>> sendAsync(VmRecord vm, Command command,
      Duration timeout, Consumer<CommandProgress> progress) {
    if (vm.hostId() == null) {
      return Optional.empty();
    }
    return Optional.of(agentOf(vm).send(command, timeout, progress));
  }

  /**
   * The result of a command sent with {@link #sendAsync}.
   *
   * @throws FarmException.Unavailable when the host went or did not answer in time
   */
  static CommandResult await(CompletableFuture<CommandResult> sent) {
    try {
      return sent.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof FarmException farm) {
        throw farm;
      }
      throw e;
    }
  }

  /** Reads inside one (fenced) transaction. */
  <T> T read(Database.TransactionWork<T> work) {
    return db.inTransaction(work);
  }

  /**
   * Commits work that moves the VM and tells its waiters the row it leaves; true when it moved.
   */
  boolean commit(Database.TransactionWork<Optional<VmRecord>> work) {
    Optional<VmRecord> after = db.inTransaction(work);
    after.ifPresent(watcher::publish);
    return after.isPresent();
  }

  /**
   * Records a transitional state (ARCHIVING, DELETING) before its command is sent, so a new
   * leader resumes it; empty when the VM is no longer in one of {@code from}.
   */
  Optional<VmRecord> mark(VmRecord vm, Set<VmState> from, VmState to, String cause) {
    return db.inTransaction(tx -> vms.transition(tx, vm.id(), from, to, cause));
  }

  /**
   * Moves the VM from one of {@code from} to {@code to}; a VM that stops offering its services
   * (deleted, archived) loses its offers or their host ports in the same transaction.
   */
  boolean record(VmRecord vm, Set<VmState> from, VmState to, String cause,
      VmRepository.Change change, boolean dropOffers) {
    return commit(tx -> {
      Optional<VmRecord> moved = vms.transition(tx, vm.id(), from, to, cause, change);
      if (moved.isPresent() && dropOffers) {
        vms.setOffers(tx, vm.id(), List.of());
      } else if (moved.isPresent() && to == VmState.ARCHIVED) {
        offers.clearHostPorts(tx, vm.id());
      }
      return moved;
    });
  }

  /** A failure that says nothing about the VM: the next sweep plans again (see #fail). */
  static boolean retryable(CommandResult result) {
    return result.getErrorKind() == CommandError.COMMAND_ERROR_STALE_GENERATION
        || result.getErrorKind() == CommandError.COMMAND_ERROR_UNAVAILABLE;
  }

  /** The VM FAILED with the agent's reason, unless the failure is retryable (then it waits). */
  boolean fail(VmRecord vm, VmState from, CommandResult result) {
    if (retryable(result)) {
      // A newer desire overtook the command, or libvirtd on the host is restarting: nothing is
      // wrong with the VM, and the next sweep plans its step again.
      LOG.fine(() -> "VM " + vm.id() + " on host " + vm.hostId() + " waits: " + result.getError());
      return false;
    }
    String reason = result.getError().isEmpty()
        ? "agent reported failure without a reason" : result.getError();
    return record(vm, Set.of(from), VmState.FAILED, "command failed: " + reason,
        VmRepository.Change.failed(reason), false);
  }
}
