package org.servicefarm.agent.link;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.AgentMessage;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.HostLoad;
import org.servicefarm.api.v1.PowerState;
import org.servicefarm.api.v1.Register;

class ReportDeltasTest {
  private static final DomainStatus RUNNING = DomainStatus.newBuilder()
      .setVmId("00000000-0000-0000-0000-000000000001").setGeneration(1)
      .setPower(PowerState.POWER_STATE_RUNNING).build();
  private static final DomainStatus SAVED = RUNNING.toBuilder()
      .setPower(PowerState.POWER_STATE_SAVED).build();
  private static final List<String> CACHED = List.of("ab".repeat(32));

  private static HostLoad load(double cpu, long memoryUsedMb, long diskFreeMb) {
    return HostLoad.newBuilder().setCpuPercent(cpu).setMemoryUsedMb(memoryUsedMb)
        .setMemoryTotalMb(8192).setVmCount(1).setDiskFreeMb(diskFreeMb).build();
  }

  private static final HostLoad QUIET = load(5.0, 1000, 50_000);

  private static ReportDeltas registered(boolean controllerTakesDeltas) {
    ReportDeltas deltas = new ReportDeltas();
    deltas.registered(Register.newBuilder().setLoad(QUIET).addInventory(RUNNING)
        .addAllCachedImages(CACHED).build());
    deltas.accepted(controllerTakesDeltas);
    return deltas;
  }

  private static AgentMessage sendNext(ReportDeltas deltas, HostLoad load,
      List<DomainStatus> domains) {
    AgentMessage next = deltas.next(load, domains, CACHED);
    deltas.sent(next);
    return next;
  }

  @Test
  void nothingChangedIsAlive() {
    assertTrue(sendNext(registered(true), QUIET, List.of(RUNNING)).hasAlive());
  }

  @Test
  void aControllerThatTakesNoDeltasGetsEveryReportWhole() {
    AgentMessage next = sendNext(registered(false), QUIET, List.of(RUNNING));
    assertTrue(next.hasLoad());
    assertFalse(next.getLoad().getInventoryUnchanged());
    assertEquals(List.of(RUNNING), next.getLoad().getDomainsList());
    assertEquals(CACHED, next.getLoad().getCachedImagesList());
  }

  @Test
  void aNewLoadAloneIsSentWithoutTheDomains() {
    AgentMessage next = sendNext(registered(true), load(40, 1000, 50_000), List.of(RUNNING));
    assertTrue(next.getLoad().getInventoryUnchanged());
    assertEquals(0, next.getLoad().getDomainsCount());
    assertEquals(40, next.getLoad().getLoad().getCpuPercent());
  }

  @Test
  void aChangedDomainSendsTheWholeReport() {
    AgentMessage next = sendNext(registered(true), QUIET, List.of(SAVED));
    assertFalse(next.getLoad().getInventoryUnchanged());
    assertEquals(List.of(SAVED), next.getLoad().getDomainsList());
  }

  @Test
  void theBaseMovesWithEveryWholeReport() {
    ReportDeltas deltas = registered(true);
    sendNext(deltas, QUIET, List.of(SAVED));
    assertTrue(sendNext(deltas, QUIET, List.of(SAVED)).hasAlive(), "same as the last whole one");
  }

  @Test
  void loadsWithinTheToleranceCountAsUnchangedAndDriftIsSentOnceFarEnough() {
    ReportDeltas deltas = registered(true);
    assertTrue(sendNext(deltas, load(5.6, 1040, 49_800), List.of(RUNNING)).hasAlive());
    // Against the load last sent (5.0), not the last sampled (5.6).
    assertTrue(sendNext(deltas, load(6.1, 1000, 50_000), List.of(RUNNING)).hasLoad());
    assertTrue(sendNext(deltas, load(6.1, 1000 + 82, 50_000), List.of(RUNNING)).hasLoad(),
        "1 % of memory is a change");
    assertTrue(sendNext(deltas, load(6.1, 1082, 49_400), List.of(RUNNING)).hasLoad(),
        "1 % of free disk is a change");
  }

  @Test
  void afterAReportWithoutDomainsTheNextIsWhole() {
    ReportDeltas deltas = registered(true);
    deltas.forget();
    assertFalse(sendNext(deltas, QUIET, List.of(RUNNING)).getLoad().getInventoryUnchanged());
  }
}
