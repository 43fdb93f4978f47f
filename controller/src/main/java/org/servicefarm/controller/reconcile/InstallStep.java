package org.servicefarm.controller.reconcile;

import java.time.Duration;
import java.util.EnumSet;
import java.util.Optional;
import org.servicefarm.api.v1.CommandError;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.hosts.AgentCommands;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.OperationPhase;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.operations.OperationTracker;
import org.servicefarm.controller.placement.ImageDigests;

/**
 * INSTALL: a PROVISIONING VM's image made ready (a composed image is built then), the host told
 * to install it (fetching the image first when it lacks it), and the VM recorded STARTING.
 */
final class InstallStep {
  private final StepTransitions transitions;
  private final CommandFactory commands;
  private final ReconcileSteps.ImageBuilds builds;
  private final ImageDigests imageDigest;
  private final OperationTracker operations;
  private final DiskLoss diskLoss;
  private final FailedMoves failedMoves;
  private final Duration timeout;

  InstallStep(StepTransitions transitions, CommandFactory commands,
      ReconcileSteps.ImageBuilds builds, ImageDigests imageDigest, OperationTracker operations,
      DiskLoss diskLoss, FailedMoves failedMoves, Duration timeout) {
    this.transitions = transitions;
    this.commands = commands;
    this.builds = builds;
    this.imageDigest = imageDigest;
    this.operations = operations;
    this.diskLoss = diskLoss;
    this.failedMoves = failedMoves;
    this.timeout = timeout;
  }

  boolean run(VmRecord vm) {
    // E.g. just after a restart; the host says whether to build at all.
    AgentCommands.ConnectedAgent agent = transitions.agentOf(vm);
    boolean simulated = agent.simulatesVms();
    String digest = transitions.read(tx -> imageDigest.digest(tx, vm.imageId()));
    try {
      // A simulated host boots nothing, so a composed image need not exist for it.
      if (!simulated) {
        if (digest == null) {
          operations.entered(vm.id(), OperationPhase.BUILDING_IMAGE, "building the image");
        }
        builds.ensureReady(vm.imageId());
        digest = transitions.read(tx -> imageDigest.digest(tx, vm.imageId()));
      }
    } catch (FarmException.Unavailable buildFailed) {
      // A build that failed fails this VM with the reason; the next request builds anew.
      return transitions.record(vm, EnumSet.of(VmState.PROVISIONING), VmState.FAILED,
          buildFailed.getMessage(), VmRepository.Change.failed(buildFailed.getMessage()), false);
    }
    // A host that lacks the image fetches it first, and says how far it is.
    boolean fetches = !simulated && digest != null && !agent.cachedImages().contains(digest);
    operations.entered(vm.id(), fetches ? OperationPhase.TRANSFERRING : OperationPhase.INSTALLING,
        (fetches ? "fetching the image to host " : "installing on host ") + vm.hostId());
    Failpoints.hit("provision.image-ready");
    Optional<CommandResult> result = transitions.send(vm, commands.install(vm), timeout,
        ProgressReports.install(operations, vm));
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
      return transitions.fail(vm, VmState.PROVISIONING, result.get());
    }
    failedMoves.roomFound(vm.id());
    Failpoints.hit("provision.installed");
    // A new disk for a VM that has served: only a stateless definition's VM gets one.
    String cause = result.get().getNewDisk() && commands.hasRun(vm)
        ? "installed on host " + vm.hostId() + " with a new disk from its image: its disk was"
            + " lost, and definition " + vm.definition() + " is stateless"
        : "installed on host " + vm.hostId();
    return transitions.record(vm, EnumSet.of(VmState.PROVISIONING), VmState.STARTING, cause,
        VmRepository.Change.NONE, false);
  }
}
