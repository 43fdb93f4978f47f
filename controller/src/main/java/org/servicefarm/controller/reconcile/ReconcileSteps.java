package org.servicefarm.controller.reconcile;

import java.time.Duration;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.FencedDatabase;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.hosts.AgentCommands;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.operations.OperationTracker;
import org.servicefarm.controller.placement.ImageDigests;
import org.servicefarm.controller.placement.RestorePlacement;

/**
 * Carries out one {@link ReconcilePlan.Step} with the executor of that step ({@link InstallStep},
 * {@link PowerStep}, {@link ArchiveStep}, {@link RestoreStep}, {@link DeleteStep}), which share
 * {@link StepTransitions}: each sends the agent its command, waits for the result, and records the
 * observed state it reports. No transaction is held while an agent works. At each step the VM's
 * running requests are told what it is doing ({@link OperationTracker}).
 */
public final class ReconcileSteps {
  private final InstallStep install;
  private final PowerStep power;
  private final ArchiveStep archive;
  private final RestoreStep restore;
  private final DeleteStep delete;

  /** Makes a VM's image bootable before its first install (composed images are built then). */
  @FunctionalInterface
  public interface ImageBuilds {
    void ensureReady(java.util.UUID imageId);
  }

  /** The size of the archive a reference names in the image store; -1 when it cannot say. */
  @FunctionalInterface
  public interface ArchiveSizes {
    long bytesOf(String archiveRef);
  }

  /**
   * @param shortTimeout how long a start, wake or sleep may take on the host
   * @param longTimeout how long an install, archive, restore or delete may take on the host
   */
  public ReconcileSteps(
      FencedDatabase db,
      VmRepository vms,
      CommandFactory commands,
      OfferRecorder offers,
      AgentCommands agents,
      VmStateWatcher watcher,
      Duration shortTimeout,
      Duration longTimeout,
      ImageDigests imageDigest,
      ImageBuilds builds,
      OperationTracker operations,
      RestorePlacement restores,
      EventRepository events,
      ArchiveSizes archiveSizes) {
    StepTransitions transitions = new StepTransitions(db, vms, offers, agents, watcher);
    DiskLoss diskLoss = new DiskLoss(db, vms, events, offers, watcher);
    FailedMoves failedMoves = new FailedMoves(db, vms, events, watcher);
    this.install = new InstallStep(transitions, commands, builds, imageDigest, operations,
        diskLoss, failedMoves, longTimeout);
    this.power = new PowerStep(transitions, commands, offers, vms, operations, failedMoves,
        shortTimeout);
    this.archive = new ArchiveStep(transitions, commands, vms, offers, agents, restores,
        failedMoves, archiveSizes, shortTimeout, longTimeout);
    this.restore = new RestoreStep(transitions, commands, restores, operations, failedMoves,
        longTimeout);
    this.delete = new DeleteStep(transitions, commands, longTimeout);
  }

  /** Runs the step; true when the VM's state moved, false when it has to wait. */
  boolean run(ReconcilePlan.Step step, VmRecord vm) {
    return switch (step) {
      case NONE -> false;
      case INSTALL -> install.run(vm);
      case START -> power.start(vm);
      case RESUME -> power.resume(vm);
      case SUSPEND -> power.suspend(vm);
      case ARCHIVE -> archive.run(vm);
      case PLACE_FOR_RESTORE -> restore.place(vm);
      case RESTORE -> restore.restore(vm);
      case DELETE -> delete.delete(vm);
      case FORGET_ARCHIVED -> delete.forgetArchived(vm);
    };
  }
}
