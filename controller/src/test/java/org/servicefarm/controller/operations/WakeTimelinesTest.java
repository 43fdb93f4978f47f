package org.servicefarm.controller.operations;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.CommandResult;

class WakeTimelinesTest {
  private final WakeTimelines wakes = new WakeTimelines();
  private final UUID vm = UUID.randomUUID();

  @Test
  void theAgentsTimesStandBesideTheControllersInHopOrder() {
    long requested = WakeTimelines.nowMicros() - 10_000;
    WakeTimelines.Timeline timeline = wakes.begin(vm, requested);
    wakes.mark(vm, WakeTimelines.Hop.DECIDED);
    wakes.agentAnswered(vm, CommandResult.newBuilder().setReceivedMicros(requested + 3_000)
        .setWorkStartedMicros(requested + 4_500).setWorkDoneMicros(requested + 8_000).build());

    String line = timeline.describe();
    assertTrue(line.contains("agent received +3.0 ms, restore started +4.5 ms,"
        + " restore done +8.0 ms, result received +"), line);
    assertTrue(line.startsWith("decided +"), line);
  }

  @Test
  void aRequestJoiningAWakeUnderWayKeepsTheFirstRequestsTimeline() {
    long requested = WakeTimelines.nowMicros();
    WakeTimelines.Timeline first = wakes.begin(vm, requested);
    assertNotNull(first);
    assertNull(wakes.begin(vm, requested + 1_000), "the second request joins the first's wake");
    wakes.agentAnswered(vm, CommandResult.newBuilder().setReceivedMicros(requested + 2_000)
        .build());
    wakes.agentAnswered(vm, CommandResult.newBuilder().setReceivedMicros(requested + 9_000)
        .build());
    assertTrue(first.describe().startsWith("agent received +2.0 ms"), first.describe());

    wakes.end(first, true);
    assertNotNull(wakes.begin(vm, requested + 20_000), "an ended wake leaves room for the next");
  }

  @Test
  void hopsOfAVmWithNoWakeUnderWayAreDropped() {
    wakes.mark(vm, WakeTimelines.Hop.COMMAND_SENT);
    WakeTimelines.Timeline later = wakes.begin(vm, WakeTimelines.nowMicros());
    assertEquals("", later.describe(), "nothing from before the wake began");
  }
}
