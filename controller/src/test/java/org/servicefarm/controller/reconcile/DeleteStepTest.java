package org.servicefarm.controller.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.CommandError;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmServiceRecord;
import org.servicefarm.controller.model.VmState;

/** DELETE and FORGET_ARCHIVED: a VM removed from its host and recorded DELETED. */
class DeleteStepTest extends StepTestFarm {
  private VmRecord offering(VmState state) {
    VmRecord vm = farm.vm(definition, host, state);
    farm.db.inTransaction(tx -> {
      farm.vms.setOffers(tx, vm.id(), List.of(
          new VmServiceRecord(vm.id(), definition.name(), StepFarm.GUEST_PORT, 40_080)));
      return null;
    });
    return vm;
  }

  @ParameterizedTest(name = "a {0} VM is deleted: {1}")
  @CsvSource({"ACTIVE, true", "SLEEPING, true", "STARTING, true", "PROVISIONING, true",
      "DELETING, true", "ARCHIVED, false", "FAILED, false", "DELETED, false", "UNKNOWN, false"})
  void whichVmsADeleteRemovesFromTheirHost(VmState from, boolean deleted) {
    VmRecord vm = farm.vm(definition, host, from);

    assertEquals(deleted, steps.run(ReconcilePlan.Step.DELETE, vm));

    assertEquals(deleted ? VmState.DELETED : from, farm.current(vm).state());
    assertEquals(deleted ? List.of(Command.ActionCase.DELETE) : List.of(),
        agents.connect(host).sentKinds());
  }

  @Test
  void aDeletedVmIsOnNoHostAndOffersNothing() {
    VmRecord vm = offering(VmState.ACTIVE);

    assertTrue(steps.run(ReconcilePlan.Step.DELETE, vm));

    VmRecord after = farm.current(vm);
    assertNull(after.hostId());
    assertEquals(List.of(), farm.offers(vm));
    List<String> causes = farm.causes(vm);
    assertEquals(List.of("deleting", "domain, disks and saved state removed from host " + host),
        causes.subList(causes.size() - 2, causes.size()));
    Command sent = agents.connect(host).sent().get(0);
    assertEquals(vm.id().toString(), sent.getVmId());
    assertTrue(sent.getCommandId().endsWith(":delete"), sent.getCommandId());
  }

  @Test
  void aDeleteANewLeaderFindsUnderWayIsSentWithoutMarkingItAgain() {
    VmRecord vm = farm.vm(definition, host, VmState.DELETING);
    int eventsBefore = farm.causes(vm).size();

    assertTrue(steps.run(ReconcilePlan.Step.DELETE, vm));

    assertEquals(eventsBefore + 1, farm.causes(vm).size(), "only the deletion's own event");
  }

  @Test
  void aDeleteTheHostRefusesFailsTheVmWithItsReason() {
    VmRecord vm = farm.vm(definition, host, VmState.ACTIVE);
    agents.connect(host).answers(Command.ActionCase.DELETE,
        ScriptedAgents.failed(CommandError.COMMAND_ERROR_HYPERVISOR, "disk busy"));

    assertTrue(steps.run(ReconcilePlan.Step.DELETE, vm));

    assertEquals(VmState.FAILED, farm.current(vm).state());
    assertEquals("disk busy", farm.current(vm).failureReason());
  }

  @Test
  void aDeleteOvertakenByANewerCommandWaitsInDeleting() {
    VmRecord vm = farm.vm(definition, host, VmState.ACTIVE);
    agents.connect(host).answers(Command.ActionCase.DELETE,
        ScriptedAgents.failed(CommandError.COMMAND_ERROR_STALE_GENERATION, "newer"));

    assertFalse(steps.run(ReconcilePlan.Step.DELETE, vm));

    assertEquals(VmState.DELETING, farm.current(vm).state());
  }

  @Test
  void aHostWhoseAgentIsNotConnectedLeavesTheVmDeletingForTheNextSweep() {
    VmRecord vm = farm.vm(definition, host, VmState.ACTIVE);
    agents.connect(host).disconnect();

    assertThrows(FarmException.Unavailable.class,
        () -> steps.run(ReconcilePlan.Step.DELETE, vm));

    assertEquals(VmState.DELETING, farm.current(vm).state());
  }

  @Test
  void anArchivedVmIsDeletedAtOnceWithoutAskingAnyHost() {
    VmRecord vm = farm.vm(definition, host, VmState.ARCHIVED);
    farm.db.inTransaction(tx -> {
      farm.vms.setOffers(tx, vm.id(), List.of(
          new VmServiceRecord(vm.id(), definition.name(), StepFarm.GUEST_PORT, null)));
      return null;
    });

    assertTrue(steps.run(ReconcilePlan.Step.FORGET_ARCHIVED, vm));

    assertEquals(VmState.DELETED, farm.current(vm).state());
    assertEquals("deleted while archived", farm.lastCause(vm));
    assertEquals(List.of(), farm.offers(vm));
    assertEquals(List.of(), agents.connect(host).sent());
  }

  @Test
  void onlyAnArchivedVmIsForgottenThatWay() {
    VmRecord vm = farm.vm(definition, host, VmState.ACTIVE);

    assertFalse(steps.run(ReconcilePlan.Step.FORGET_ARCHIVED, vm));

    assertEquals(VmState.ACTIVE, farm.current(vm).state());
  }
}
