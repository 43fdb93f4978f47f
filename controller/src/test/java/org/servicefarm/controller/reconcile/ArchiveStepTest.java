package org.servicefarm.controller.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.CommandError;
import org.servicefarm.controller.db.ManifestRepository;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.HostRecord.HostStatus;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmServiceRecord;
import org.servicefarm.controller.model.VmState;

/** ARCHIVE: a VM's disk sent to the archive store and the VM recorded ARCHIVED, or kept. */
class ArchiveStepTest extends StepTestFarm {
  private static final String ARCHIVE = "sha256:" + StepFarm.digestOf("an archive");

  @BeforeEach
  void archivesAnswered() {
    agents.connect(host).answers(Command.ActionCase.ARCHIVE,
        ScriptedAgents.ok().toBuilder().setArchiveRef(ARCHIVE).build());
  }

  @Test
  void anArchivedVmIsOnNoHostKeepsItsServicesWithoutPortsAndTheHostForgetsIt() {
    VmRecord vm = farm.vm(definition, host, VmState.ACTIVE);
    farm.db.inTransaction(tx -> {
      farm.vms.setOffers(tx, vm.id(), List.of(
          new VmServiceRecord(vm.id(), definition.name(), StepFarm.GUEST_PORT, 40_080)));
      return null;
    });

    assertTrue(steps.run(ReconcilePlan.Step.ARCHIVE, vm));

    VmRecord after = farm.current(vm);
    assertEquals(VmState.ARCHIVED, after.state());
    assertNull(after.hostId());
    assertEquals(ARCHIVE, after.archiveRef());
    assertEquals(List.of(new VmServiceRecord(vm.id(), definition.name(), StepFarm.GUEST_PORT,
        null)), farm.offers(vm), "a request restores it, so it still offers its service");
    List<String> causes = farm.causes(vm);
    assertEquals(List.of("archiving: disk to the archive store", "archived from host " + host),
        causes.subList(causes.size() - 2, causes.size()));
    // The archive first, then the host's leftovers of the VM go.
    assertEquals(List.of(Command.ActionCase.ARCHIVE, Command.ActionCase.DELETE),
        agents.connect(host).sentKinds());
    Command forget = agents.connect(host).sent().get(1);
    assertEquals(vm.id().toString(), forget.getVmId());
    assertTrue(forget.getCommandId().endsWith(":forget-archive"), forget.getCommandId());
  }

  @Test
  void anArchivedSleepingVmIsRecordedWithTheArchivesSignedManifest() {
    VmRecord vm = farm.vm(definition, host, VmState.SLEEPING);

    assertTrue(steps.run(ReconcilePlan.Step.ARCHIVE, vm));

    assertEquals(VmState.ARCHIVED, farm.current(vm).state());
    assertTrue(farm.db.inTransaction(tx -> new ManifestRepository().archiveManifest(tx, vm.id(),
        ARCHIVE)).isPresent(), "signed in the commit, so a restore can prove the archive");
  }

  @ParameterizedTest(name = "an archive of a {0} VM failing with {1} leaves it {2}, wanted {3}")
  @CsvSource({
      "ACTIVE, COMMAND_ERROR_NO_SPACE, STARTING, ACTIVE",
      "ACTIVE, COMMAND_ERROR_HYPERVISOR, STARTING, ACTIVE",
      "SLEEPING, COMMAND_ERROR_NO_SPACE, SLEEPING, SLEEPING",
      "STARTING, COMMAND_ERROR_IMAGE, STARTING, ACTIVE",
  })
  void aFailedArchiveLeavesTheVmOnItsHostAsItWas(VmState from, CommandError kind,
      VmState recorded, DesiredState wanted) {
    VmRecord vm = farm.vm(definition, host, from);
    agents.connect(host).answers(Command.ActionCase.ARCHIVE,
        ScriptedAgents.failed(kind, "archive store full"));

    assertTrue(steps.run(ReconcilePlan.Step.ARCHIVE, vm));

    VmRecord after = farm.current(vm);
    assertEquals(recorded, after.state());
    assertEquals(wanted, after.desiredState());
    assertEquals(host, after.hostId(), "its domain and disk stay on the host");
    assertTrue(farm.lastCause(vm).startsWith("archive failed on host " + host
        + ": archive store full; its domain and disk stay there"), farm.lastCause(vm));
    assertEquals(List.of(Command.ActionCase.ARCHIVE), agents.connect(host).sentKinds(),
        "nothing is deleted when the archive did not happen");
  }

  @ParameterizedTest(name = "an archive answered {0} waits in ARCHIVING")
  @CsvSource({"COMMAND_ERROR_STALE_GENERATION", "COMMAND_ERROR_UNAVAILABLE"})
  void anArchiveThatSaysNothingAboutTheVmIsTriedAgain(CommandError kind) {
    VmRecord vm = farm.vm(definition, host, VmState.ACTIVE);
    agents.connect(host).answers(Command.ActionCase.ARCHIVE,
        ScriptedAgents.failed(kind, "try again"));

    assertFalse(steps.run(ReconcilePlan.Step.ARCHIVE, vm));

    assertEquals(VmState.ARCHIVING, farm.current(vm).state());
  }

  @Test
  void anArchiveANewLeaderFindsUnderWayIsSentAgainWithoutMarkingItTwice() {
    VmRecord vm = farm.vm(definition, host, VmState.ARCHIVING);
    int eventsBefore = farm.causes(vm).size();

    assertTrue(steps.run(ReconcilePlan.Step.ARCHIVE, vm));

    assertEquals(VmState.ARCHIVED, farm.current(vm).state());
    assertEquals(eventsBefore + 1, farm.causes(vm).size(), "only the archive's own event");
  }

  @Test
  void aVmNoLongerRunningOrSleepingIsNotArchived() {
    VmRecord vm = farm.vm(definition, host, VmState.DELETED);

    assertFalse(steps.run(ReconcilePlan.Step.ARCHIVE, vm));

    assertEquals(List.of(), agents.connect(host).sent());
  }

  @Test
  void aHostWhoseAgentIsNotConnectedLeavesTheVmArchivingForTheNextSweep() {
    VmRecord vm = farm.vm(definition, host, VmState.ACTIVE);
    agents.connect(host).disconnect();

    assertThrows(FarmException.Unavailable.class,
        () -> steps.run(ReconcilePlan.Step.ARCHIVE, vm));

    assertEquals(VmState.ARCHIVING, farm.current(vm).state(),
        "marked before the command, so whoever leads next resumes it");
  }

  @Test
  void aHostThatNeverAnswersTheForgetStillHasTheArchiveRecorded() {
    VmRecord vm = farm.vm(definition, host, VmState.ACTIVE);
    agents.connect(host).neverAnswers(Command.ActionCase.DELETE);

    assertTrue(steps.run(ReconcilePlan.Step.ARCHIVE, vm));

    assertEquals(VmState.ARCHIVED, farm.current(vm).state());
  }

  @Test
  void aVmArchivedToLeaveADrainingHostIsPlacedElsewhereInTheSameCommit() {
    String elsewhere = farm.host();
    agents.connect(elsewhere);
    VmRecord active = farm.vm(definition, host, VmState.ACTIVE);
    VmRecord leaving = farm.db.inTransaction(tx -> {
      farm.hosts.setStatus(tx, host, HostStatus.DRAINING);
      return farm.vms.moveAway(tx, active, DesiredState.ACTIVE, "drain of host " + host);
    }).orElseThrow();

    assertTrue(steps.run(ReconcilePlan.Step.ARCHIVE, leaving));

    VmRecord after = farm.current(leaving);
    assertEquals(VmState.RESTORING, after.state());
    assertEquals(elsewhere, after.hostId());
    assertEquals(DesiredState.ACTIVE, after.desiredState(), "back to what it was");
    assertEquals(ARCHIVE, after.archiveRef());
  }

  @Test
  void anArchiveCountsItsSizeInItsProjectsStoredBytes() {
    String project = farm.project();
    VmRecord vm = farm.vm(definition, host, VmState.ACTIVE, project);
    assertEquals(0, farm.usage(project).storedBytes());

    assertTrue(steps.run(ReconcilePlan.Step.ARCHIVE, vm));

    assertEquals(StepFarm.ARCHIVE_BYTES, farm.usage(project).storedBytes());
  }

  @Test
  void aVmArchivedToLeaveADrainingHostNoOtherHostCanTakeStaysArchivedAndSaysWhy() {
    VmRecord active = farm.vm(definition, host, VmState.ACTIVE);
    VmRecord leaving = farm.db.inTransaction(tx -> {
      farm.hosts.setStatus(tx, host, HostStatus.DRAINING);
      return farm.vms.moveAway(tx, active, DesiredState.ACTIVE, "drain of host " + host);
    }).orElseThrow();

    assertTrue(steps.run(ReconcilePlan.Step.ARCHIVE, leaving));

    assertEquals(VmState.ARCHIVED, farm.current(leaving).state());
    assertTrue(farm.lastCause(leaving).startsWith("drain of host " + host
        + ": no other host can take this VM"), farm.lastCause(leaving));
  }
}
