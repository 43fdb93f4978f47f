package org.servicefarm.controller.reconcile;

import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletionException;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.CommandError;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.PowerState;
import org.servicefarm.controller.FarmException;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.hosts.AgentSession;
import org.servicefarm.controller.hosts.Placer;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.scheduler.PlacementRequest;

/**
 * Carries out one {@link ReconcilePlan.Step}: sends the agent its command, waits for the result,
 * and records the observed state it reports. No transaction is held while an agent works.
 */
public final class ReconcileSteps {
  private final Database db;
  private final VmRepository vms;
  private final CommandFactory commands;
  private final OfferRecorder offers;
  private final AgentRegistry agents;
  private final Placer placer;
  private final VmStateWatcher watcher;
  private final Duration shortTimeout;
  private final Duration longTimeout;
  private final Placer.ImageDigests imageDigest;
  private final ImageBuilds builds;

  /** Makes a VM's image bootable before its first install (composed images are built then). */
  @FunctionalInterface
  public interface ImageBuilds {
    void ensureReady(java.util.UUID imageId);
  }

  public ReconcileSteps(
      Database db,
      VmRepository vms,
      CommandFactory commands,
      OfferRecorder offers,
      AgentRegistry agents,
      Placer placer,
      VmStateWatcher watcher,
      Duration shortTimeout,
      Duration longTimeout,
      Placer.ImageDigests imageDigest,
      ImageBuilds builds) {
    this.imageDigest = imageDigest;
    this.builds = builds;
    this.db = db;
    this.vms = vms;
    this.commands = commands;
    this.offers = offers;
    this.agents = agents;
    this.placer = placer;
    this.watcher = watcher;
    this.shortTimeout = shortTimeout;
    this.longTimeout = longTimeout;
  }

  /** Runs the step; true when the VM's state moved, false when it has to wait. */
  boolean run(ReconcilePlan.Step step, VmRecord vm) {
    return switch (step) {
      case NONE -> false;
      case INSTALL -> install(vm);
      case START -> activate(vm, commands.start(vm), VmState.STARTING, "started");
      case RESUME -> activate(vm, commands.resume(vm), VmState.SLEEPING, "woken from managed save");
      case SUSPEND -> command(vm, commands.suspend(vm), shortTimeout, VmState.ACTIVE,
          VmState.SLEEPING, "memory saved to disk");
      case ARCHIVE -> archive(vm);
      case PLACE_FOR_RESTORE -> placeForRestore(vm);
      case RESTORE -> command(vm, commands.restore(vm), longTimeout, VmState.RESTORING,
          VmState.STARTING, "restored from the archive on host " + vm.hostId());
      case DELETE -> delete(vm);
      case FORGET_ARCHIVED -> record(vm, EnumSet.of(VmState.ARCHIVED), VmState.DELETED,
          "deleted while archived", VmRepository.Change.NONE, true);
    };
  }

  private boolean install(VmRecord vm) {
    boolean simulated = agents.session(vm.hostId()).map(AgentSession::simulatesVms).orElse(false);
    try {
      // A simulated host boots nothing, so a composed image need not exist for it.
      if (!simulated) {
        builds.ensureReady(vm.imageId());
      }
    } catch (FarmException.Unavailable buildFailed) {
      // A build that failed fails this VM with the reason; the next request builds anew.
      return record(vm, EnumSet.of(VmState.PROVISIONING), VmState.FAILED, buildFailed.getMessage(),
          VmRepository.Change.failed(buildFailed.getMessage()), false);
    }
    return command(vm, commands.install(vm), longTimeout, VmState.PROVISIONING,
        VmState.STARTING, "installed on host " + vm.hostId());
  }

  private boolean command(
      VmRecord vm, Command command, Duration timeout, VmState from, VmState to, String cause) {
    Optional<CommandResult> result = send(vm, command, timeout);
    if (result.isEmpty()) {
      return false;
    }
    if (!result.get().getOk()) {
      return fail(vm, from, result.get());
    }
    return record(vm, EnumSet.of(from), to, cause, VmRepository.Change.NONE, false);
  }

  private boolean activate(VmRecord vm, Command command, VmState from, String cause) {
    Optional<CommandResult> result = send(vm, command, shortTimeout);
    if (result.isEmpty()) {
      return false;
    }
    if (!result.get().getOk() || result.get().getStatus().getPower() != PowerState.POWER_STATE_RUNNING) {
      return fail(vm, from, result.get());
    }
    DomainStatus status = result.get().getStatus();
    Optional<VmRecord> after =
        db.inTransaction(
            tx -> {
              Optional<VmRecord> moved = vms.transition(tx, vm.id(), Set.of(from), VmState.ACTIVE, cause);
              if (moved.isPresent()) {
                offers.record(tx, moved.get(), status.getPortsList());
              }
              return moved;
            });
    after.ifPresent(watcher::publish);
    return after.isPresent();
  }

  private boolean archive(VmRecord vm) {
    VmRecord current = vm;
    if (vm.state() != VmState.ARCHIVING) {
      Optional<VmRecord> marked =
          db.inTransaction(
              tx -> vms.transition(tx, vm.id(),
                  EnumSet.of(VmState.ACTIVE, VmState.SLEEPING, VmState.STARTING),
                  VmState.ARCHIVING, "archiving: disk to the archive store"));
      if (marked.isEmpty()) {
        return false;
      }
      current = marked.get();
    }
    Optional<CommandResult> result = send(current, commands.archive(current), longTimeout);
    if (result.isEmpty()) {
      return false;
    }
    if (!result.get().getOk()) {
      return fail(current, VmState.ARCHIVING, result.get());
    }
    return record(current, EnumSet.of(VmState.ARCHIVING), VmState.ARCHIVED,
        "archived from host " + current.hostId(),
        VmRepository.Change.archived(result.get().getArchiveRef()), false);
  }

  private boolean placeForRestore(VmRecord vm) {
    Optional<VmRecord> placed =
        db.inTransaction(
            tx ->
                placer.place(
                    tx,
                    new PlacementRequest(vm.vcpus(), vm.memoryMb(), imageDigest.apply(tx, vm.imageId())),
                    (t, hostId) ->
                        vms.transition(t, vm.id(), EnumSet.of(VmState.ARCHIVED), VmState.RESTORING,
                            "restoring on host " + hostId, VmRepository.Change.host(hostId))));
    placed.ifPresent(watcher::publish);
    return placed.isPresent();
  }

  private boolean delete(VmRecord vm) {
    VmRecord current = vm;
    if (vm.state() != VmState.DELETING) {
      Set<VmState> from = EnumSet.complementOf(EnumSet.of(VmState.DELETED, VmState.FAILED,
          VmState.ARCHIVED, VmState.DELETING, VmState.UNKNOWN));
      Optional<VmRecord> marked =
          db.inTransaction(tx -> vms.transition(tx, vm.id(), from, VmState.DELETING, "deleting"));
      if (marked.isEmpty()) {
        return false;
      }
      current = marked.get();
    }
    Optional<CommandResult> result = send(current, commands.delete(current), longTimeout);
    if (result.isEmpty()) {
      return false;
    }
    if (!result.get().getOk()) {
      return fail(current, VmState.DELETING, result.get());
    }
    return record(current, EnumSet.of(VmState.DELETING), VmState.DELETED,
        "domain, disks and saved state removed from host " + current.hostId(),
        VmRepository.Change.host(null), true);
  }

  private boolean record(VmRecord vm, Set<VmState> from, VmState to, String cause,
      VmRepository.Change change, boolean dropOffers) {
    Optional<VmRecord> after =
        db.inTransaction(
            tx -> {
              Optional<VmRecord> moved = vms.transition(tx, vm.id(), from, to, cause, change);
              if (moved.isPresent() && dropOffers) {
                vms.setOffers(tx, vm.id(), List.of());
              } else if (moved.isPresent() && to == VmState.ARCHIVED) {
                offers.clearHostPorts(tx, vm.id());
              }
              return moved;
            });
    after.ifPresent(watcher::publish);
    return after.isPresent();
  }

  private boolean fail(VmRecord vm, VmState from, CommandResult result) {
    if (result.getErrorKind() == CommandError.COMMAND_ERROR_STALE_GENERATION) {
      // A newer desire overtook this command; the next step is planned from the fresh row.
      return false;
    }
    String reason = result.getError().isEmpty()
        ? "agent reported failure without a reason" : result.getError();
    return record(vm, EnumSet.of(from), VmState.FAILED, "command failed: " + reason,
        VmRepository.Change.failed(reason), false);
  }

  /** Sends the command to the VM's host; empty when the host is not connected or did not answer. */
  private Optional<CommandResult> send(VmRecord vm, Command command, Duration timeout) {
    if (vm.hostId() == null) {
      return Optional.empty();
    }
    AgentSession session =
        agents.session(vm.hostId())
            .orElseThrow(() -> new FarmException.Unavailable(
                "host " + vm.hostId() + " of VM " + vm.id() + " is not connected"));
    try {
      return Optional.of(session.send(command, timeout).join());
    } catch (CompletionException e) {
      if (e.getCause() instanceof FarmException farm) {
        throw farm;
      }
      throw e;
    }
  }
}
