package org.servicefarm.controller.operations;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.model.OperationPhase;
import org.servicefarm.controller.model.VmState;

/** The progress a client sees: one scale, rising along every path a request takes. */
class OperationPhasesTest {

  private static void assertRising(List<OperationPhase> path) {
    for (int i = 1; i < path.size(); i++) {
      assertTrue(OperationPhases.percent(path.get(i - 1)) < OperationPhases.percent(path.get(i)),
          path.get(i - 1) + " then " + path.get(i));
    }
  }

  @Test
  void everyPathRisesToOneHundred() {
    assertRising(List.of(OperationPhase.QUEUED, OperationPhase.PLACING,
        OperationPhase.BUILDING_IMAGE, OperationPhase.TRANSFERRING, OperationPhase.INSTALLING,
        OperationPhase.BOOTING, OperationPhase.READY));
    assertRising(List.of(OperationPhase.PLACING, OperationPhase.RESTORING, OperationPhase.BOOTING,
        OperationPhase.READY));
    assertRising(List.of(OperationPhase.WAKING, OperationPhase.READY));
    assertEquals(100, OperationPhases.percent(OperationPhase.READY));
  }

  @Test
  void aTransferMovesThroughItsStretchByBytes() {
    int start = OperationPhases.percent(OperationPhase.TRANSFERRING);
    int next = OperationPhases.percent(OperationPhase.INSTALLING);
    assertEquals(start, OperationPhases.percent(OperationPhase.TRANSFERRING, 0, 1000));
    assertEquals(start + (next - start) / 2,
        OperationPhases.percent(OperationPhase.TRANSFERRING, 500, 1000));
    assertEquals(next, OperationPhases.percent(OperationPhase.TRANSFERRING, 1000, 1000));
    // More bytes than announced never leave the stretch; an unknown total counts as a start.
    assertEquals(next, OperationPhases.percent(OperationPhase.TRANSFERRING, 2000, 1000));
    assertEquals(start, OperationPhases.percent(OperationPhase.TRANSFERRING, 500, 0));
  }

  @Test
  void aRequestStartsInThePhaseOfTheVmItWasGiven() {
    assertEquals(OperationPhase.PLACING, OperationPhases.initial(VmState.PROVISIONING));
    assertEquals(OperationPhase.WAKING, OperationPhases.initial(VmState.SLEEPING));
    assertEquals(OperationPhase.PLACING, OperationPhases.initial(VmState.ARCHIVED));
    assertEquals(OperationPhase.BOOTING, OperationPhases.initial(VmState.STARTING));
    assertEquals(OperationPhase.QUEUED, OperationPhases.initial(VmState.ARCHIVING));
  }

  @Test
  void bytesReadAsMebibytes() {
    assertEquals("12.5 of 40.0 MiB",
        OperationPhases.bytes(12L * 1024 * 1024 + 512 * 1024, 40L * 1024 * 1024));
  }
}
