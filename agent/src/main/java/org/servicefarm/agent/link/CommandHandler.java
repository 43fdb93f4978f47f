package org.servicefarm.agent.link;

import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import org.servicefarm.agent.hypervisor.DomainSpec;
import org.servicefarm.agent.hypervisor.Hypervisor;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.agent.hypervisor.InstallProgress;
import org.servicefarm.agent.hypervisor.WorkClock;
import org.servicefarm.agent.images.ImageException;
import org.servicefarm.agent.images.ManifestVerifier;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.CommandError;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.InstallVm;
import org.servicefarm.api.v1.PowerState;
import org.servicefarm.api.v1.RestoreVm;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one controller command on the hypervisor and says how it went. Commands older than the
 * newest generation seen for their VM are refused without touching the VM. Logs one line per
 * command.
 */
public final class CommandHandler {

  private static final Logger log = LoggerFactory.getLogger(CommandHandler.class);

  private final Hypervisor hypervisor;
  private final GenerationTracker generations;
  private final CommandObserver observer;
  private final ManifestVerifier manifests;

  public CommandHandler(Hypervisor hypervisor, GenerationTracker generations) {
    this(hypervisor, generations, CommandObserver.NONE, new ManifestVerifier());
  }

  /**
   * @param manifests checks the signed manifest of every image and archive an install or a
   *     restore names, before the hypervisor is asked to do anything
   */
  public CommandHandler(Hypervisor hypervisor, GenerationTracker generations,
      CommandObserver observer, ManifestVerifier manifests) {
    this.hypervisor = hypervisor;
    this.generations = generations;
    this.observer = observer;
    this.manifests = manifests;
  }

  public CommandResult execute(Command command) {
    return execute(command, InstallProgress.NONE);
  }

  /** Runs the command; an install or restore tells {@code progress} how it goes. */
  public CommandResult execute(Command command, InstallProgress progress) {
    return execute(command, progress, WorkClock.nowMicros());
  }

  /**
   * As {@link #execute(Command, InstallProgress)} for a command taken off the stream at
   * {@code receivedMicros} (microseconds since the Unix epoch): the result says when it was
   * received and when the hypervisor's work began and ended, for the controller's timeline.
   */
  public CommandResult execute(Command command, InstallProgress progress, long receivedMicros) {
    long startedNanos = System.nanoTime();
    String vmId = command.getVmId();
    long generation = command.getGeneration();
    String action = command.getActionCase().name().toLowerCase(Locale.ROOT);
    CommandResult.Builder result = CommandResult.newBuilder()
        .setCommandId(command.getCommandId())
        .setVmId(vmId)
        .setGeneration(generation)
        .setReceivedMicros(receivedMicros);
    WorkClock clock = new WorkClock();
    // Reading the console changes nothing, so no generation of the VM's is at stake.
    OptionalLong newer = command.hasReadConsole() ? OptionalLong.empty()
        : generations.admit(vmId, generation);
    if (newer.isPresent()) {
      fail(result, CommandError.COMMAND_ERROR_STALE_GENERATION,
          "stale generation " + generation + " < " + newer.getAsLong());
    } else {
      try {
        run(command, result, progress, clock);
        result.setOk(true);
      } catch (HypervisorException e) {
        Optional<String> unreachable = e.kind() == HypervisorException.Kind.HYPERVISOR
            ? hypervisor.unreachable() : Optional.empty();
        if (unreachable.isPresent()) {
          // libvirtd went away under the command: nothing about the VM is wrong, and the
          // command (idempotent) is sent again once libvirtd answers.
          fail(result, CommandError.COMMAND_ERROR_UNAVAILABLE, e.getMessage()
              + "; libvirt does not answer (" + unreachable.get() + ")");
        } else {
          fail(result, errorKind(e.kind()), e.getMessage());
        }
      } catch (ImageException e) {
        fail(result, CommandError.COMMAND_ERROR_IMAGE, e.getMessage());
      } catch (IllegalArgumentException e) {
        fail(result, CommandError.COMMAND_ERROR_INVALID, action + " refused: " + e.getMessage());
      } catch (RuntimeException e) {
        // A bug or a native-library surprise: the controller still gets an answer it can act on,
        // and treats it as a failure of the host, which is what it is from over there.
        log.error("command {} ({} of vm {}) failed unexpectedly", command.getCommandId(), action,
            vmId, e);
        fail(result, CommandError.COMMAND_ERROR_HYPERVISOR,
            action + " of vm " + vmId + " failed unexpectedly: " + e);
      }
    }
    result.setWorkStartedMicros(clock.startedMicros()).setWorkDoneMicros(clock.doneMicros());
    long nanos = System.nanoTime() - startedNanos;
    long millis = nanos / 1_000_000;
    observer.finished(action, result.getOk() ? "ok" : outcome(result.getErrorKind()), nanos);
    log.info("command {}: {} vm {} generation {}: {} ({} ms)", command.getCommandId(), action,
        vmId, generation,
        result.getOk() ? "ok, " + describe(result.getStatus().getPower()) : result.getError(),
        millis);
    return result.build();
  }

  /** Runs the command; {@code clock} hears when the hypervisor's work began and ended. */
  private void run(Command command, CommandResult.Builder result, InstallProgress progress,
      WorkClock clock) throws HypervisorException, ImageException {
    if (command.getActionCase() == Command.ActionCase.RESUME) {
      // The hypervisor marks the restore itself, without the domain's look-up around it.
      act(command, result, progress, clock);
      return;
    }
    clock.started();
    try {
      act(command, result, progress, clock);
    } finally {
      clock.done();
    }
  }

  private void act(Command command, CommandResult.Builder result, InstallProgress progress,
      WorkClock clock) throws HypervisorException, ImageException {
    String vmId = command.getVmId();
    long generation = command.getGeneration();
    switch (command.getActionCase()) {
      case INSTALL -> {
        InstallVm install = command.getInstall();
        manifests.verifyImage(install.getImage());
        InstallProgress noted = new InstallProgress() {
          @Override
          public void transferred(long doneBytes, long totalBytes) {
            progress.transferred(doneBytes, totalBytes);
          }

          @Override
          public void installing() {
            progress.installing();
          }

          @Override
          public void newDisk() {
            result.setNewDisk(true);
          }
        };
        result.setStatus(hypervisor.install(new DomainSpec(vmId, generation, install.getImage(),
            install.getVcpus(), install.getMemoryMb(), install.getGuestPortsList(), noted,
            install.getKeepDisk())));
      }
      case START -> result.setStatus(hypervisor.start(vmId, generation));
      case SUSPEND -> result.setStatus(hypervisor.suspend(vmId, generation));
      case RESUME -> result.setStatus(hypervisor.resume(vmId, generation, result::setNotice,
          clock));
      case ARCHIVE -> result.setArchiveRef(hypervisor.archive(vmId, generation))
          .setStatus(gone(vmId, generation));
      case RESTORE -> {
        RestoreVm restore = command.getRestore();
        if (!restore.getArchiveRef().isEmpty()) {
          manifests.verifyArchive(vmId, restore.getArchiveRef(), restore.getArchiveManifest());
        }
        manifests.verifyImage(restore.getImage());
        result.setStatus(hypervisor.restore(restore.getArchiveRef(), new DomainSpec(vmId,
            generation, restore.getImage(), restore.getVcpus(), restore.getMemoryMb(),
            restore.getGuestPortsList(), progress)));
      }
      case DELETE -> {
        hypervisor.delete(vmId);
        result.setStatus(gone(vmId, generation));
      }
      case READ_CONSOLE -> result.setConsoleTail(com.google.protobuf.ByteString.copyFrom(
          hypervisor.consoleTail(vmId, command.getReadConsole().getMaxBytes())));
      case ACTION_NOT_SET -> throw new HypervisorException(HypervisorException.Kind.INVALID,
          "command " + command.getCommandId() + " for vm " + vmId + " names no action this"
              + " agent knows" + (command.getUnknownFields().asMap().isEmpty() ? ""
                  : " (field " + command.getUnknownFields().asMap().keySet()
                      + ": the controller is newer than this agent)"));
    }
  }

  private static void fail(CommandResult.Builder result, CommandError kind, String error) {
    result.setOk(false).setErrorKind(kind).setError(error);
  }

  /** The error kind as a metric label: COMMAND_ERROR_NOT_FOUND is not_found. */
  static String outcome(CommandError kind) {
    String name = kind.name();
    String prefix = "COMMAND_ERROR_";
    return (name.startsWith(prefix) ? name.substring(prefix.length()) : name)
        .toLowerCase(Locale.ROOT);
  }

  /** The one place hypervisor failure kinds become the API's error kinds. */
  static CommandError errorKind(HypervisorException.Kind kind) {
    return switch (kind) {
      case NOT_FOUND -> CommandError.COMMAND_ERROR_NOT_FOUND;
      case INVALID -> CommandError.COMMAND_ERROR_INVALID;
      case HYPERVISOR -> CommandError.COMMAND_ERROR_HYPERVISOR;
      case IMAGE -> CommandError.COMMAND_ERROR_IMAGE;
      case DISK_LOST -> CommandError.COMMAND_ERROR_DISK_LOST;
      case NO_SPACE -> CommandError.COMMAND_ERROR_NO_SPACE;
    };
  }

  /** The status of a VM whose domain no longer exists on this host. */
  private static DomainStatus gone(String vmId, long generation) {
    return DomainStatus.newBuilder()
        .setVmId(vmId)
        .setGeneration(generation)
        .setPower(PowerState.POWER_STATE_UNSPECIFIED)
        .build();
  }

  private static String describe(PowerState power) {
    return power == PowerState.POWER_STATE_UNSPECIFIED
        ? "no domain"
        : power.name().substring("POWER_STATE_".length());
  }
}
