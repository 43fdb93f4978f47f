package org.servicefarm.controller.reconcile;

import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.CommandError;
import org.servicefarm.api.v1.CommandProgress;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.PowerState;
import org.servicefarm.controller.reconcile.Failpoints;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.FencedDatabase;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.hosts.AgentSession;
import org.servicefarm.controller.placement.RestorePlacement;
import org.servicefarm.controller.placement.ImageDigests;
import org.servicefarm.controller.model.OperationPhase;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.operations.OperationTracker;
import org.servicefarm.controller.placement.PlacementRequest;

/**
 * Carries out one {@link ReconcilePlan.Step}: sends the agent its command, waits for the result,
 * and records the observed state it reports. No transaction is held while an agent works. At each
 * step the VM's running requests are told what it is doing ({@link OperationTracker}).
 */
public final class ReconcileSteps {
  private static final java.util.logging.Logger LOG =
      java.util.logging.Logger.getLogger(ReconcileSteps.class.getName());
  private final FencedDatabase db;
  private final VmRepository vms;
  private final CommandFactory commands;
  private final OfferRecorder offers;
  private final AgentRegistry agents;
  private final VmStateWatcher watcher;
  private final Duration shortTimeout;
  private final Duration longTimeout;
  private final ImageDigests imageDigest;
  private final ImageBuilds builds;
  private final OperationTracker operations;
  private final RestorePlacement restores;
  private final DiskLoss diskLoss;
  private final FailedMoves failedMoves;

  /** Makes a VM's image bootable before its first install (composed images are built then). */
  @FunctionalInterface
  public interface ImageBuilds {
    void ensureReady(java.util.UUID imageId);
  }

  public ReconcileSteps(
      FencedDatabase db,
      VmRepository vms,
      CommandFactory commands,
      OfferRecorder offers,
      AgentRegistry agents,
      VmStateWatcher watcher,
      Duration shortTimeout,
      Duration longTimeout,
      ImageDigests imageDigest,
      ImageBuilds builds,
      OperationTracker operations,
      RestorePlacement restores,
      EventRepository events) {
    this.diskLoss = new DiskLoss(db, vms, events, offers, watcher);
    this.failedMoves = new FailedMoves(db, vms, events, watcher);
    this.operations = operations;
    this.restores = restores;
    this.imageDigest = imageDigest;
    this.builds = builds;
    this.db = db;
    this.vms = vms;
    this.commands = commands;
    this.offers = offers;
    this.agents = agents;
    this.watcher = watcher;
    this.shortTimeout = shortTimeout;
    this.longTimeout = longTimeout;
  }

  /** Runs the step; true when the VM's state moved, false when it has to wait. */
  boolean run(ReconcilePlan.Step step, VmRecord vm) {
    return switch (step) {
      case NONE -> false;
      case INSTALL -> install(vm);
      case START -> {
        operations.entered(vm.id(), OperationPhase.BOOTING, "booting on host " + vm.hostId());
        yield activate(vm, commands.start(vm), VmState.STARTING, "started");
      }
      case RESUME -> {
        operations.entered(vm.id(), OperationPhase.WAKING, "waking on host " + vm.hostId());
        yield activate(vm, commands.resume(vm), VmState.SLEEPING, "woken from managed save");
      }
      case SUSPEND -> suspend(vm);
      case ARCHIVE -> archive(vm);
      case PLACE_FOR_RESTORE -> {
        operations.entered(vm.id(), OperationPhase.PLACING, "choosing a host to restore on");
        yield placeForRestore(vm);
      }
      case RESTORE -> {
        operations.entered(vm.id(), OperationPhase.RESTORING, "restoring on host " + vm.hostId());
        yield command(vm, commands.restore(vm), longTimeout, VmState.RESTORING, VmState.STARTING,
            "restored from the archive on host " + vm.hostId(),
            ProgressReports.restore(operations, vm));
      }
      case DELETE -> delete(vm);
      case FORGET_ARCHIVED -> record(vm, EnumSet.of(VmState.ARCHIVED), VmState.DELETED,
          "deleted while archived", VmRepository.Change.NONE, true);
    };
  }

  private boolean install(VmRecord vm) {
    Optional<AgentSession> session = agents.session(vm.hostId());
    if (session.isEmpty()) { // e.g. just after a restart; the host says whether to build at all
      throw new FarmException.Unavailable("host " + vm.hostId() + " of VM " + vm.id()
          + " is not connected");
    }
    boolean simulated = session.map(AgentSession::simulatesVms).orElse(false);
    String digest = db.inTransaction(tx -> imageDigest.digest(tx, vm.imageId()));
    try {
      // A simulated host boots nothing, so a composed image need not exist for it.
      if (!simulated) {
        if (digest == null) {
          operations.entered(vm.id(), OperationPhase.BUILDING_IMAGE, "building the image");
        }
        builds.ensureReady(vm.imageId());
        digest = db.inTransaction(tx -> imageDigest.digest(tx, vm.imageId()));
      }
    } catch (FarmException.Unavailable buildFailed) {
      // A build that failed fails this VM with the reason; the next request builds anew.
      return record(vm, EnumSet.of(VmState.PROVISIONING), VmState.FAILED, buildFailed.getMessage(),
          VmRepository.Change.failed(buildFailed.getMessage()), false);
    }
    // A host that lacks the image fetches it first, and says how far it is.
    boolean fetches = !simulated && session.isPresent() && digest != null
        && !session.get().cachedImages().contains(digest);
    operations.entered(vm.id(), fetches ? OperationPhase.TRANSFERRING : OperationPhase.INSTALLING,
        (fetches ? "fetching the image to host " : "installing on host ") + vm.hostId());
    Failpoints.hit("provision.image-ready");
    Optional<CommandResult> result =
        send(vm, commands.install(vm), longTimeout, ProgressReports.install(operations, vm));
    if (result.isEmpty()) {
      return false;
    }
    if (!result.get().getOk()
        && result.get().getErrorKind() == CommandError.COMMAND_ERROR_DISK_LOST) {
      return diskLoss.lost(vm, result.get().getError());
    }
    if (!result.get().getOk()
        && result.get().getErrorKind() == CommandError.COMMAND_ERROR_NO_SPACE) {
      return failedMoves.installWaitsForRoom(vm, result.get());
    }
    if (!result.get().getOk()) {
      return fail(vm, VmState.PROVISIONING, result.get());
    }
    failedMoves.roomFound(vm.id());
    Failpoints.hit("provision.installed");
    // A new disk for a VM that has served: only a stateless definition's VM gets one.
    String cause = result.get().getNewDisk() && commands.hasRun(vm)
        ? "installed on host " + vm.hostId() + " with a new disk from its image: its disk was"
            + " lost, and definition " + vm.definition() + " is stateless"
        : "installed on host " + vm.hostId();
    return record(vm, EnumSet.of(VmState.PROVISIONING), VmState.STARTING, cause,
        VmRepository.Change.NONE, false);
  }

  private boolean command(VmRecord vm, Command command, Duration timeout, VmState from,
      VmState to, String cause, Consumer<CommandProgress> progress) {
    Optional<CommandResult> result = send(vm, command, timeout, progress);
    if (result.isEmpty()) {
      return false;
    }
    if (!result.get().getOk() && from == VmState.RESTORING
        && result.get().getErrorKind() == CommandError.COMMAND_ERROR_NO_SPACE) {
      return failedMoves.restoreFailedForRoom(vm, result.get());
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
    if (from == VmState.STARTING) { // a start, not a wake from SLEEPING
      Failpoints.hit("provision.booted");
    }
    DomainStatus status = result.get().getStatus();
    // A wake that had to boot from the disk (its saved memory missing or unreadable) says so.
    String notice = result.get().getNotice();
    String recorded = notice.isEmpty() ? cause : "woken without its memory on host "
        + vm.hostId() + ": " + notice;
    Optional<VmRecord> after =
        db.inTransaction(
            tx -> {
              Optional<VmRecord> moved =
                  vms.transition(tx, vm.id(), Set.of(from), VmState.ACTIVE, recorded);
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
      return retryable(result.get()) ? false : failedMoves.archiveFailed(current, result.get());
    }
    String fromHost = current.hostId();
    String archiveRef = result.get().getArchiveRef();
    Optional<VmRecord> after =
        db.inTransaction(
            tx -> {
              Optional<VmRecord> moved = vms.transition(tx, vm.id(),
                  EnumSet.of(VmState.ARCHIVING), VmState.ARCHIVED, "archived from host " + fromHost,
                  VmRepository.Change.archived(archiveRef));
              if (moved.isEmpty()) {
                return moved;
              }
              offers.clearHostPorts(tx, vm.id());
              // A VM archived to leave a draining host is placed elsewhere in the same commit.
              return Optional.of(restores.afterArchived(tx, moved.get(), fromHost));
            });
    after.ifPresent(watcher::publish);
    if (after.isPresent()) {
      forgetArchiveOn(fromHost, current);
    }
    return after.isPresent();
  }

  /**
   * The archiving host kept the archive's reference to answer a repeated archive command. Once
   * the table holds it, the host's leftovers of the VM go: a delete of a VM it no longer runs.
   * Sent before any restore of the VM, so the agent (serial per VM) never mixes the two.
   */
  private void forgetArchiveOn(String hostId, VmRecord vm) {
    agents.session(hostId).ifPresent(session -> session.send(commands.delete(vm).toBuilder()
            .setCommandId(vm.id() + ":" + vm.generation() + ":forget-archive").build(), shortTimeout)
        .whenComplete((result, error) -> {
          if (error != null || !result.getOk()) {
            LOG.warning("host " + hostId + " kept leftovers of archived VM " + vm.id() + ": "
                + (error != null ? error.getMessage() : result.getError()));
          }
        }));
  }

  private boolean placeForRestore(VmRecord vm) {
    Optional<VmRecord> placed = db.inTransaction(tx -> restores.placeArchived(tx, vm, ""));
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

  private boolean suspend(VmRecord vm) {
    Optional<CommandResult> result = send(vm, commands.suspend(vm), shortTimeout);
    if (result.isEmpty()) {
      return false;
    }
    if (!result.get().getOk()) {
      return retryable(result.get()) ? false : failedMoves.sleepFailed(vm, result.get());
    }
    return record(vm, EnumSet.of(VmState.ACTIVE), VmState.SLEEPING, "memory saved to disk",
        VmRepository.Change.NONE, false);
  }

  /** A failure that says nothing about the VM: the next sweep plans again (see #fail). */
  private static boolean retryable(CommandResult result) {
    return result.getErrorKind() == CommandError.COMMAND_ERROR_STALE_GENERATION
        || result.getErrorKind() == CommandError.COMMAND_ERROR_UNAVAILABLE;
  }

  private boolean fail(VmRecord vm, VmState from, CommandResult result) {
    if (retryable(result)) {
      // A newer desire overtook the command, or libvirtd on the host is restarting: nothing is
      // wrong with the VM, and the next sweep plans its step again.
      LOG.fine(() -> "VM " + vm.id() + " on host " + vm.hostId() + " waits: " + result.getError());
      return false;
    }
    String reason = result.getError().isEmpty()
        ? "agent reported failure without a reason" : result.getError();
    return record(vm, EnumSet.of(from), VmState.FAILED, "command failed: " + reason,
        VmRepository.Change.failed(reason), false);
  }

  /** Sends the command to the VM's host; empty when the host is not connected or did not answer. */
  private Optional<CommandResult> send(VmRecord vm, Command command, Duration timeout) {
    return send(vm, command, timeout, null);
  }

  private Optional<CommandResult> send(VmRecord vm, Command command, Duration timeout,
      Consumer<CommandProgress> progress) {
    if (vm.hostId() == null) {
      return Optional.empty();
    }
    AgentSession session =
        agents.session(vm.hostId())
            .orElseThrow(() -> new FarmException.Unavailable(
                "host " + vm.hostId() + " of VM " + vm.id() + " is not connected"));
    try {
      return Optional.of(session.send(command, timeout, progress).join());
    } catch (CompletionException e) {
      if (e.getCause() instanceof FarmException farm) {
        throw farm;
      }
      throw e;
    }
  }
}
