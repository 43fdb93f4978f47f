package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.controller.ControllerConfig;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * A request for a SLEEPING VM is carried by pushes alone (the decision kicks the VM's step, the
 * agent's result comes back on its stream, the step's commit wakes the waiting request): with the
 * reconcile sweep and the idle ladder ticking every ten minutes and agents reporting every 30 s,
 * wakes are still answered, each well within the request's 30 s wait. Were any hop left to a
 * timer, the request would time out. Controller on in-process gRPC, agent on libvirt's test
 * driver.
 */
class WakeWithoutTimersIntegrationTest {
  private static final Duration TIMERS = Duration.ofMinutes(10);
  private static final Duration REQUEST_WAIT = Duration.ofSeconds(30);
  private static InProcessFarm farm;
  private static FarmClient client;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(new ControllerConfig(30, Duration.ofSeconds(120),
        Duration.ofSeconds(30), REQUEST_WAIT, REQUEST_WAIT, Duration.ofSeconds(10),
        Duration.ofSeconds(30), TIMERS.toMillis(), 4.0, 4).withIdleLadderTick(TIMERS));
    client = farm.client();
    farm.addHost("slow-timers", 8, 8192);
    farm.awaitConnected(List.of("slow-timers"));
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  @Test
  void aSleepingVmIsWokenAndAnsweredWithoutWaitingForTheSweep() {
    client.defineService(ServiceDefinition.newBuilder().setName("pushed-wake")
        .addPackages("busybox").setPort(80).setVcpus(1).setMemoryMb(64).build());
    ServiceAccess first = client.requestService("pushed-wake");
    client.releaseLease(first.lease().id());

    for (int round = 1; round <= 3; round++) {
      assertEquals(VmState.VM_STATE_SLEEPING, client.suspendVm(first.vmId()).getState(),
          "round " + round + ": the VM was put to sleep");
      long start = System.nanoTime();
      ServiceAccess woken = client.requestService("pushed-wake");
      Duration took = Duration.ofNanos(System.nanoTime() - start);

      assertEquals(first.vmId(), woken.vmId(), "round " + round + ": the sleeping VM was woken");
      assertEquals(VmState.VM_STATE_ACTIVE, client.getVm(woken.vmId()).getState());
      assertTrue(took.compareTo(REQUEST_WAIT) < 0, "round " + round + ": answered after " + took);
      client.releaseLease(woken.lease().id());
    }
  }
}
