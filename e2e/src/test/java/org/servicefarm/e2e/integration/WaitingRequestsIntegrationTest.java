package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.controller.ControllerConfig;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * Requests that wait for their VM hold no server thread: while more requests wait for a VM than
 * the controller has server threads, a request for a running VM is still answered at once, and
 * the waiting ones are all answered when their VM comes up.
 */
class WaitingRequestsIntegrationTest {
  // More than the controller's server threads (Controller.SERVER_THREADS is 32).
  private static final int WAITING = 80;
  // The leader's fence (LeaderFence.LOCK_KEY): every reconciler transaction takes it shared.
  private static final String HOLD_THE_RECONCILER =
      "SELECT pg_advisory_lock(hashtextextended('servicefarm.leader-fence', 0))";

  @Test
  void aRunningServiceIsAnsweredWhileManyRequestsWaitForAnotherVm() throws Exception {
    ControllerConfig config = new ControllerConfig(1, Duration.ofSeconds(30),
        Duration.ofSeconds(1), Duration.ofSeconds(90), Duration.ofSeconds(30),
        Duration.ofSeconds(10), Duration.ofSeconds(30), 300, 4.0, 16);
    try (InProcessFarm farm = new InProcessFarm(config)) {
      FarmClient client = farm.client();
      for (String name : List.of("steady", "sleepy")) {
        client.defineService(ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
            .setPort(80).setVcpus(1).setMemoryMb(128).build());
      }
      farm.addHost("host-1", 8, 8192);
      farm.awaitConnected(List.of("host-1"));
      ServiceAccess steady = client.requestService("steady");
      ServiceAccess sleepy = client.requestService("sleepy");
      client.suspendVm(sleepy.vmId(), true);

      List<CompletableFuture<ServiceAccess>> waiting = new ArrayList<>();
      // A busy farm: the reconciler cannot record anything until this session lets go, so the
      // requests to wake "sleepy" are decided and then wait.
      try (Connection holder = farm.db().dataSource().getConnection();
          Statement hold = holder.createStatement()) {
        hold.execute(HOLD_THE_RECONCILER);
        for (int i = 0; i < WAITING; i++) {
          waiting.add(client.requestServiceAsync("sleepy"));
        }
        // Each decided request holds a lease (the forced suspend ended the first request's).
        Await.until(WAITING + " requests waiting", Duration.ofSeconds(30), () -> farm.db()
            .queryOne("SELECT count(*) FROM leases WHERE vm_id = ?::uuid"
                + " AND released_at IS NULL", rs -> rs.getLong(1), sleepy.vmId())
            .orElseThrow() >= WAITING);

        // A thread per waiting request would leave none for this one until the others ended.
        CompletableFuture<ServiceAccess> warm = client.requestServiceAsync("steady");
        assertEquals(steady.vmId(), warm.get(20, TimeUnit.SECONDS).vmId());
        assertTrue(waiting.stream().noneMatch(CompletableFuture::isDone),
            "the waiting requests still wait for the reconciler");
        hold.execute("SELECT pg_advisory_unlock_all()");
      }
      for (CompletableFuture<ServiceAccess> request : waiting) {
        ServiceAccess access = request.get(60, TimeUnit.SECONDS);
        assertEquals(sleepy.vmId(), access.vmId());
        assertEquals(sleepy.endpoint(), access.endpoint());
      }
    }
  }
}
