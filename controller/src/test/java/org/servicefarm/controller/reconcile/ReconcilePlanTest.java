package org.servicefarm.controller.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.reconcile.ReconcilePlan.Step;

class ReconcilePlanTest {

  static Stream<Arguments> steps() {
    return Stream.of(
        Arguments.of(VmState.PROVISIONING, DesiredState.ACTIVE, Step.INSTALL),
        Arguments.of(VmState.STARTING, DesiredState.ACTIVE, Step.START),
        Arguments.of(VmState.ACTIVE, DesiredState.ACTIVE, Step.NONE),
        Arguments.of(VmState.ACTIVE, DesiredState.SLEEPING, Step.SUSPEND),
        Arguments.of(VmState.SLEEPING, DesiredState.ACTIVE, Step.RESUME),
        Arguments.of(VmState.SLEEPING, DesiredState.SLEEPING, Step.NONE),
        Arguments.of(VmState.ACTIVE, DesiredState.ARCHIVED, Step.ARCHIVE),
        Arguments.of(VmState.SLEEPING, DesiredState.ARCHIVED, Step.ARCHIVE),
        Arguments.of(VmState.ARCHIVING, DesiredState.ACTIVE, Step.ARCHIVE),
        Arguments.of(VmState.ARCHIVED, DesiredState.ACTIVE, Step.PLACE_FOR_RESTORE),
        Arguments.of(VmState.RESTORING, DesiredState.ACTIVE, Step.RESTORE),
        Arguments.of(VmState.ARCHIVED, DesiredState.SLEEPING, Step.PLACE_FOR_RESTORE),
        Arguments.of(VmState.ACTIVE, DesiredState.DELETED, Step.DELETE),
        Arguments.of(VmState.DELETING, DesiredState.ACTIVE, Step.DELETE),
        Arguments.of(VmState.ARCHIVED, DesiredState.DELETED, Step.FORGET_ARCHIVED),
        Arguments.of(VmState.UNKNOWN, DesiredState.ACTIVE, Step.NONE),
        Arguments.of(VmState.FAILED, DesiredState.ACTIVE, Step.NONE),
        Arguments.of(VmState.DELETED, DesiredState.DELETED, Step.NONE),
        Arguments.of(VmState.PROVISIONING, DesiredState.ARCHIVED, Step.INSTALL));
  }

  @ParameterizedTest(name = "{0} wanting {1} → {2}")
  @MethodSource("steps")
  void choosesTheNextStep(VmState state, DesiredState desired, Step expected) {
    VmRecord vm = new VmRecord(UUID.randomUUID(), "web", UUID.randomUUID(), "h1", state, desired, 3,
        1, 256, "ref", state == VmState.FAILED ? "boom" : null, Instant.now(), Instant.now());
    assertEquals(expected, ReconcilePlan.next(vm));
  }
}
