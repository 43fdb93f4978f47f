package org.servicefarm.controller.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.CommandError;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.PowerState;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.OperationPhase;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmServiceRecord;
import org.servicefarm.controller.model.VmState;

/** START, RESUME and SUSPEND: a VM booted, woken or put to sleep by its host. */
class PowerStepTest extends StepTestFarm {
  private static final int HOST_PORT = 40_080;

  @BeforeEach
  void powerAnswered() {
    agents.connect(host)
        .answers(Command.ActionCase.START, ScriptedAgents.running(StepFarm.GUEST_PORT, HOST_PORT))
        .answers(Command.ActionCase.RESUME,
            ScriptedAgents.running(StepFarm.GUEST_PORT, HOST_PORT));
  }

  @Test
  void aStartedVmIsRecordedActiveOfferingItsServiceOnTheForwardedPort() {
    VmRecord vm = farm.vm(definition, host, VmState.STARTING);
    UUID request = farm.requestFor(vm);

    assertTrue(steps.run(ReconcilePlan.Step.START, vm));

    assertEquals(VmState.ACTIVE, farm.current(vm).state());
    assertEquals("started", farm.lastCause(vm));
    assertEquals(List.of(new VmServiceRecord(vm.id(), definition.name(), StepFarm.GUEST_PORT,
        HOST_PORT)), farm.offers(vm));
    Command sent = agents.connect(host).sent().get(0);
    assertEquals(Command.ActionCase.START, sent.getActionCase());
    assertEquals(vm.id().toString(), sent.getVmId());
    assertEquals(vm.generation(), sent.getGeneration());
    assertEquals(OperationPhase.BOOTING, farm.request(request).phase());
  }

  /** What the host answers to a start, and what the VM is recorded then. */
  static Stream<Arguments> startResults() {
    return Stream.of(
        Arguments.of("running", ScriptedAgents.running(StepFarm.GUEST_PORT, HOST_PORT),
            VmState.ACTIVE, true),
        Arguments.of("ok but shut off", CommandResult.newBuilder().setOk(true)
            .setStatus(DomainStatus.newBuilder().setPower(PowerState.POWER_STATE_SHUT_OFF))
            .build(), VmState.FAILED, true),
        Arguments.of("a hypervisor error", ScriptedAgents.failed(
            CommandError.COMMAND_ERROR_HYPERVISOR, "domain crashed on boot"), VmState.FAILED,
            true),
        Arguments.of("a stale generation", ScriptedAgents.failed(
            CommandError.COMMAND_ERROR_STALE_GENERATION, "generation 3 is newer"),
            VmState.STARTING, false),
        Arguments.of("libvirtd restarting", ScriptedAgents.failed(
            CommandError.COMMAND_ERROR_UNAVAILABLE, "libvirtd restarting"), VmState.STARTING,
            false));
  }

  @ParameterizedTest(name = "a start answered {0} leaves the VM {2}")
  @MethodSource("startResults")
  void theStartsResultDecidesWhatTheVmIsRecorded(String answer, CommandResult result,
      VmState recorded, boolean moved) {
    VmRecord vm = farm.vm(definition, host, VmState.STARTING);
    agents.connect(host).answers(Command.ActionCase.START, result);

    assertEquals(moved, steps.run(ReconcilePlan.Step.START, vm));

    assertEquals(recorded, farm.current(vm).state());
  }

  @Test
  void aFailedStartRecordsTheAgentsReason() {
    VmRecord vm = farm.vm(definition, host, VmState.STARTING);
    agents.connect(host).answers(Command.ActionCase.START,
        ScriptedAgents.failed(CommandError.COMMAND_ERROR_HYPERVISOR, "domain crashed on boot"));

    steps.run(ReconcilePlan.Step.START, vm);

    assertEquals("domain crashed on boot", farm.current(vm).failureReason());
    assertEquals("command failed: domain crashed on boot", farm.lastCause(vm));
    assertEquals(List.of(), farm.offers(vm).stream().filter(o -> o.hostPort() != null).toList(),
        "a failed VM is reached on no port");
  }

  @Test
  void aWokenVmIsRecordedActiveAndItsRequestSaysItWasWaking() {
    VmRecord vm = farm.vm(definition, host, VmState.SLEEPING);
    UUID request = farm.requestFor(vm);

    assertTrue(steps.run(ReconcilePlan.Step.RESUME, vm));

    assertEquals(VmState.ACTIVE, farm.current(vm).state());
    assertEquals("woken from managed save", farm.lastCause(vm));
    assertEquals(List.of(Command.ActionCase.RESUME), agents.connect(host).sentKinds());
    assertEquals(OperationPhase.WAKING, farm.request(request).phase());
    assertEquals(HOST_PORT, farm.offers(vm).get(0).hostPort());
  }

  @Test
  void aWakeThatHadToBootFromDiskSaysItsMemoryIsGone() {
    VmRecord vm = farm.vm(definition, host, VmState.SLEEPING);
    agents.connect(host).answers(Command.ActionCase.RESUME,
        ScriptedAgents.running(StepFarm.GUEST_PORT, HOST_PORT).toBuilder()
            .setNotice("saved memory unreadable; booted from disk").build());

    assertTrue(steps.run(ReconcilePlan.Step.RESUME, vm));

    assertEquals(VmState.ACTIVE, farm.current(vm).state());
    assertEquals("woken without its memory on host " + host
        + ": saved memory unreadable; booted from disk", farm.lastCause(vm));
  }

  @Test
  void aWakeTheHostCannotDoFailsTheVm() {
    VmRecord vm = farm.vm(definition, host, VmState.SLEEPING);
    agents.connect(host).answers(Command.ActionCase.RESUME,
        ScriptedAgents.failed(CommandError.COMMAND_ERROR_NOT_FOUND, "no saved state"));

    assertTrue(steps.run(ReconcilePlan.Step.RESUME, vm));

    assertEquals(VmState.FAILED, farm.current(vm).state());
    assertEquals("no saved state", farm.current(vm).failureReason());
  }

  @Test
  void aSuspendedVmIsRecordedSleeping() {
    VmRecord vm = farm.vm(definition, host, VmState.ACTIVE);

    assertTrue(steps.run(ReconcilePlan.Step.SUSPEND, vm));

    assertEquals(VmState.SLEEPING, farm.current(vm).state());
    assertEquals("memory saved to disk", farm.lastCause(vm));
    assertEquals(List.of(Command.ActionCase.SUSPEND), agents.connect(host).sentKinds());
    assertEquals(vm.id().toString(), agents.connect(host).sent().get(0).getVmId());
  }

  @ParameterizedTest(name = "a sleep failing with {0} leaves the VM ACTIVE, moved: {1}")
  @CsvSource({"COMMAND_ERROR_NO_SPACE, true", "COMMAND_ERROR_HYPERVISOR, true",
      "COMMAND_ERROR_STALE_GENERATION, false", "COMMAND_ERROR_UNAVAILABLE, false"})
  void aSleepTheHostCouldNotDoLeavesTheVmActive(CommandError kind, boolean wantedActiveAgain) {
    VmRecord active = farm.vm(definition, host, VmState.ACTIVE);
    VmRecord vm = farm.db.inTransaction(tx -> farm.vms.setDesired(tx, active,
        DesiredState.SLEEPING, "test: idle"));
    agents.connect(host).answers(Command.ActionCase.SUSPEND,
        ScriptedAgents.failed(kind, "/var/lib/servicefarm: 2 MB free, 128 MB needed"));

    assertEquals(wantedActiveAgain, steps.run(ReconcilePlan.Step.SUSPEND, vm));

    VmRecord after = farm.current(vm);
    assertEquals(VmState.ACTIVE, after.state(), "a failed managed save leaves the guest running");
    if (wantedActiveAgain) {
      assertEquals(DesiredState.ACTIVE, after.desiredState());
      assertTrue(farm.lastCause(vm).startsWith("sleep failed on host " + host
          + ": /var/lib/servicefarm: 2 MB free, 128 MB needed; it stays ACTIVE"),
          farm.lastCause(vm));
    } else {
      assertEquals(DesiredState.SLEEPING, after.desiredState(), "tried again next sweep");
    }
  }

  @Test
  void aHostWhoseAgentIsNotConnectedIsToldNothingAndTheVmStaysWhereItWas() {
    VmRecord starting = farm.vm(definition, host, VmState.STARTING);
    VmRecord sleeping = farm.vm(definition, host, VmState.SLEEPING);
    VmRecord active = farm.vm(definition, host, VmState.ACTIVE);
    agents.connect(host).disconnect();

    assertThrows(FarmException.Unavailable.class,
        () -> steps.run(ReconcilePlan.Step.START, starting));
    assertThrows(FarmException.Unavailable.class,
        () -> steps.run(ReconcilePlan.Step.RESUME, sleeping));
    assertThrows(FarmException.Unavailable.class,
        () -> steps.run(ReconcilePlan.Step.SUSPEND, active));

    assertEquals(VmState.STARTING, farm.current(starting).state());
    assertEquals(VmState.SLEEPING, farm.current(sleeping).state());
    assertEquals(VmState.ACTIVE, farm.current(active).state());
    assertEquals(List.of(), agents.connect(host).sent());
  }

  @Test
  void aWakeTheHostNeverAnswersLeavesTheVmSleeping() {
    VmRecord vm = farm.vm(definition, host, VmState.SLEEPING);
    agents.connect(host).neverAnswers(Command.ActionCase.RESUME);

    assertThrows(FarmException.Unavailable.class, () -> steps.run(ReconcilePlan.Step.RESUME, vm));

    assertEquals(VmState.SLEEPING, farm.current(vm).state());
  }
}
