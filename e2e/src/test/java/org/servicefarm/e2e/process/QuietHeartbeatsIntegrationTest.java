package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.stub.StreamObserver;
import java.sql.Connection;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.AgentControlGrpc;
import org.servicefarm.api.v1.AgentMessage;
import org.servicefarm.api.v1.Alive;
import org.servicefarm.api.v1.ControllerMessage;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.HostCapacity;
import org.servicefarm.api.v1.HostLoad;
import org.servicefarm.api.v1.HostStatus;
import org.servicefarm.api.v1.LoadReport;
import org.servicefarm.api.v1.PortForward;
import org.servicefarm.api.v1.PowerState;
import org.servicefarm.api.v1.Register;
import org.servicefarm.api.v1.Registered;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.e2e.support.BulkFarmRows;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * Delta heartbeats keep the liveness guarantees: a host whose agent says only "alive" stays UP
 * with its VMs, a host whose stream stays open but says nothing is DOWN within the liveness
 * timeout (its VMs UNKNOWN), and an Alive after that brings it back with its VMs squared from
 * the last whole report. A load sent alone reaches the hosts table. The agent here is a raw
 * stream, so what it sends and when is the test's.
 */
class QuietHeartbeatsIntegrationTest {
  private static final String HOST = BulkFarmRows.hostId(1);
  private static final String VM = BulkFarmRows.vmId(1).toString();
  /** InProcessFarm.fastConfig's liveness timeout, and the liveness pass's period on top. */
  private static final Duration LIVENESS = Duration.ofSeconds(3);
  private static final Duration TICK = Duration.ofSeconds(1);

  private static InProcessFarm farm;
  private static FarmClient admin;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    admin = farm.client();
    try (Connection c = farm.db().dataSource().getConnection()) {
      BulkFarmRows.write(c, 1, 1, 1, "ACTIVE");
    }
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  private static HostLoad.Builder load(double cpu) {
    return HostLoad.newBuilder().setCpuPercent(cpu).setMemoryUsedMb(512).setMemoryTotalMb(4096)
        .setVmCount(1).setDiskFreeMb(50_000);
  }

  private static Host host() {
    return admin.listHosts().stream().filter(h -> h.getId().equals(HOST)).findFirst()
        .orElseThrow(() -> new AssertionError("host " + HOST + " not listed"));
  }

  private static VmState vmState() {
    return admin.getVm(VM).getState();
  }

  private static void sleep(Duration d) throws InterruptedException {
    Thread.sleep(d.toMillis());
  }

  @Test
  void aHostThatOnlySaysAliveStaysUpAndOneThatFallsSilentGoesDownWithinItsTimeout()
      throws Exception {
    CompletableFuture<Registered> registered = new CompletableFuture<>();
    StreamObserver<AgentMessage> agent = AgentControlGrpc.newStub(farm.channel()).connect(
        new StreamObserver<ControllerMessage>() {
          @Override
          public void onNext(ControllerMessage message) {
            if (message.hasRegistered()) {
              registered.complete(message.getRegistered());
            }
          }

          @Override
          public void onError(Throwable t) {
            registered.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    DomainStatus running = DomainStatus.newBuilder().setVmId(VM).setGeneration(1)
        .setPower(PowerState.POWER_STATE_RUNNING)
        .addPorts(PortForward.newBuilder().setGuestPort(BulkFarmRows.GUEST_PORT)
            .setHostPort(21000))
        .build();
    agent.onNext(AgentMessage.newBuilder().setRegister(Register.newBuilder().setHostId(HOST)
        .setAddress("127.0.0.1").setHypervisor("test").setAgentVersion("it")
        .setProtocolVersion(2).setLoad(load(5)).addInventory(running)
        .setCapacity(HostCapacity.newBuilder().setVcpus(4).setMemoryMb(4096).setDiskMb(60_000)))
        .build());
    assertTrue(registered.get(30, TimeUnit.SECONDS).getDeltaReports(),
        "the controller takes delta reports");
    Await.until("host UP", Duration.ofSeconds(10),
        () -> host().getStatus() == HostStatus.HOST_STATUS_UP);

    // Twice the liveness timeout with nothing but Alive: alive, and its VM still ACTIVE.
    AgentMessage alive = AgentMessage.newBuilder().setAlive(Alive.getDefaultInstance()).build();
    for (int i = 0; i < 2 * LIVENESS.toSeconds(); i++) {
      agent.onNext(alive);
      sleep(TICK);
    }
    assertEquals(HostStatus.HOST_STATUS_UP, host().getStatus(), "Alive keeps the host UP");
    assertEquals(VmState.VM_STATE_ACTIVE, vmState());

    // A load alone: the domains are those of the registration, the load is the new one. Alive
    // goes on meanwhile (the hosts table may take a while to show the load on a busy machine).
    agent.onNext(AgentMessage.newBuilder().setLoad(LoadReport.newBuilder().setLoad(load(70))
        .setInventoryUnchanged(true)).build());
    java.util.concurrent.atomic.AtomicLong lastSent =
        new java.util.concurrent.atomic.AtomicLong(System.nanoTime());
    java.util.concurrent.ScheduledExecutorService aliveTimer =
        java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
    aliveTimer.scheduleAtFixedRate(() -> {
      agent.onNext(alive);
      lastSent.set(System.nanoTime());
    }, 1, 1, TimeUnit.SECONDS);
    try {
      Await.until("the new load in the hosts table", Duration.ofSeconds(15),
          () -> host().getLoad().getCpuPercent() == 70.0);
      assertEquals(VmState.VM_STATE_ACTIVE, vmState(), "a load alone leaves the VM as it was");
    } finally {
      aliveTimer.shutdown();
      assertTrue(aliveTimer.awaitTermination(5, TimeUnit.SECONDS));
    }

    // Silent with the stream open: DOWN within the timeout (plus the liveness pass's period).
    long silentSince = lastSent.get();
    Await.until("host DOWN", LIVENESS.plus(TICK).plusSeconds(3),
        () -> host().getStatus() == HostStatus.HOST_STATUS_DOWN);
    Duration silentFor = Duration.ofNanos(System.nanoTime() - silentSince);
    assertTrue(silentFor.compareTo(LIVENESS) >= 0,
        "DOWN after " + silentFor.toMillis() + " ms of silence, before the timeout");
    Await.until("VM UNKNOWN", Duration.ofSeconds(5),
        () -> vmState() == VmState.VM_STATE_UNKNOWN);

    // Alive again: UP, and the VM follows the last whole report (running) back to ACTIVE.
    agent.onNext(alive);
    Await.until("host UP again", Duration.ofSeconds(10),
        () -> host().getStatus() == HostStatus.HOST_STATUS_UP);
    Await.until("VM ACTIVE again", Duration.ofSeconds(10),
        () -> vmState() == VmState.VM_STATE_ACTIVE);
    agent.onCompleted();
  }
}
