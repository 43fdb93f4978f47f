package org.servicefarm.controller.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.CommandError;
import org.servicefarm.api.v1.CommandProgress;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.OperationPhase;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/** PLACE_FOR_RESTORE and RESTORE: an archived VM wanted again, placed and brought back. */
class RestoreStepTest extends StepTestFarm {
  @Test
  void anArchivedVmIsPlacedOnAConnectedHostAndRecordedRestoringThere() {
    VmRecord vm = farm.vm(definition, host, VmState.ARCHIVED);
    UUID request = farm.requestFor(vm);

    assertTrue(steps.run(ReconcilePlan.Step.PLACE_FOR_RESTORE, vm));

    VmRecord after = farm.current(vm);
    assertEquals(VmState.RESTORING, after.state());
    assertEquals(host, after.hostId(), "the one host whose agent is connected");
    assertEquals("restoring on host " + host, farm.lastCause(vm));
    assertEquals(OperationPhase.PLACING, farm.request(request).phase());
    assertEquals(List.of(), agents.connect(host).sent(), "placing tells no host anything");
  }

  @Test
  void anArchivedVmNoHostCanTakeStaysArchived() {
    VmRecord vm = farm.vm(definition, host, VmState.ARCHIVED);
    agents.connect(host).disconnect();

    FarmException refused = assertThrows(FarmException.class,
        () -> steps.run(ReconcilePlan.Step.PLACE_FOR_RESTORE, vm));

    assertTrue(refused instanceof FarmException.Unavailable
        || refused instanceof FarmException.NoCapacity, refused.toString());
    assertEquals(VmState.ARCHIVED, farm.current(vm).state());
    assertNull(farm.current(vm).hostId());
  }

  @Test
  void aRestoredVmIsRecordedStartingAndTheHostIsSentItsSignedArchive() {
    VmRecord vm = farm.vm(definition, host, VmState.RESTORING);
    UUID request = farm.requestFor(vm);

    assertTrue(steps.run(ReconcilePlan.Step.RESTORE, vm));

    assertEquals(VmState.STARTING, farm.current(vm).state());
    assertEquals("restored from the archive on host " + host, farm.lastCause(vm));
    Command sent = agents.connect(host).sent().get(0);
    assertEquals(Command.ActionCase.RESTORE, sent.getActionCase());
    assertEquals(vm.id().toString(), sent.getVmId());
    assertEquals(vm.archiveRef(), sent.getRestore().getArchiveRef());
    assertTrue(sent.getRestore().hasArchiveManifest(), "the agent checks what it fetches");
    assertEquals(OperationPhase.RESTORING, farm.request(request).phase());
  }

  @Test
  void theRequestSaysHowFarTheRestoresFetchIs() {
    VmRecord vm = farm.vm(definition, host, VmState.RESTORING);
    UUID request = farm.requestFor(vm);
    agents.connect(host).reportsThenAnswers(Command.ActionCase.RESTORE, List.of(
        CommandProgress.newBuilder().setPhase("transferring").setDoneBytes(2048)
            .setTotalBytes(4096).build()), ScriptedAgents.ok());

    assertTrue(steps.run(ReconcilePlan.Step.RESTORE, vm));

    assertTrue(farm.request(request).message().startsWith("restoring on host " + host + ": "),
        farm.request(request).message());
  }

  @ParameterizedTest(name = "a restore failing with {0} leaves the VM {1}")
  @CsvSource({
      "COMMAND_ERROR_NO_SPACE, ARCHIVED, true,"
          + " restore on host HOST ran out of room: 3 MB free",
      "COMMAND_ERROR_HYPERVISOR, FAILED, true, command failed: 3 MB free",
      "COMMAND_ERROR_IMAGE, FAILED, true, command failed: 3 MB free",
      "COMMAND_ERROR_STALE_GENERATION, RESTORING, false, test: RESTORING",
      "COMMAND_ERROR_UNAVAILABLE, RESTORING, false, test: RESTORING",
  })
  void theRestoresResultDecidesWhatTheVmIsRecorded(CommandError kind, VmState recorded,
      boolean moved, String causeBeginning) {
    VmRecord vm = farm.vm(definition, host, VmState.RESTORING);
    agents.connect(host).answers(Command.ActionCase.RESTORE,
        ScriptedAgents.failed(kind, "3 MB free"));

    assertEquals(moved, steps.run(ReconcilePlan.Step.RESTORE, vm));

    assertEquals(recorded, farm.current(vm).state());
    assertTrue(farm.lastCause(vm).startsWith(causeBeginning.replace("HOST", host)),
        farm.lastCause(vm));
  }

  @Test
  void aRestoreOutOfRoomKeepsTheArchiveAndLeavesTheHostForPlacementToChooseAgain() {
    VmRecord vm = farm.vm(definition, host, VmState.RESTORING);
    agents.connect(host).answers(Command.ActionCase.RESTORE,
        ScriptedAgents.failed(CommandError.COMMAND_ERROR_NO_SPACE, "3 MB free"));

    steps.run(ReconcilePlan.Step.RESTORE, vm);

    VmRecord after = farm.current(vm);
    assertNull(after.hostId());
    assertEquals(vm.archiveRef(), after.archiveRef());
  }

  @Test
  void aHostWhoseAgentIsNotConnectedLeavesTheVmRestoring() {
    VmRecord vm = farm.vm(definition, host, VmState.RESTORING);
    agents.connect(host).disconnect();

    assertThrows(FarmException.Unavailable.class,
        () -> steps.run(ReconcilePlan.Step.RESTORE, vm));

    assertEquals(VmState.RESTORING, farm.current(vm).state());
  }
}
