package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.AttemptCounter;
import org.servicefarm.e2e.support.FarmTables;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.ReplicatedPostgres;

/**
 * The controller on a multi-host PostgreSQL URL ({@code targetServerType=primary}) over a primary
 * and a synchronous streaming standby. Under a request load the primary is SIGKILLed and the
 * standby promoted: calls fail only with UNAVAILABLE while there is no primary, and the SDK's
 * retries carry them through; the controller (not restarted) leads again and its agents return;
 * every lease, VM and event it acknowledged is on the new primary, none twice. Real processes;
 * agents on libvirt's test driver.
 */
class DatabaseFailoverIntegrationTest {
  private static final List<String> HOSTS = List.of("fo-1", "fo-2");
  private static final int SERVICES = 12;
  private static final int CLIENTS = 4;
  private static final Duration LOAD = Duration.ofSeconds(24);
  /** How long the farm is without a primary: the time an operator or a tool takes to promote. */
  private static final Duration NO_PRIMARY = Duration.ofSeconds(3);

  /** One acknowledged request, or one that failed after the SDK's retries. */
  private record Call(String key, String service, long startNanos, long endNanos, String vmId,
      String leaseId, Status.Code failure) {}

  @Test
  void aPrimaryFailoverLosesNoAcknowledgedLeaseVmOrEventAndNeedsNoRestart() throws Exception {
    try (ProcessFarm farm = new ProcessFarm("test:///default");
        ReplicatedPostgres postgres = new ReplicatedPostgres(farm.dir().resolve("postgres"))) {
      farm.useDatabase(postgres.jdbcUrl(), postgres.user());
      farm.startController();
      long controllerPid = farm.controllerPid();
      for (String host : HOSTS) {
        farm.startAgent(host);
      }
      farm.awaitConnected(HOSTS);
      FarmClient admin = farm.client();
      for (int i = 0; i < SERVICES; i++) {
        admin.defineService(ServiceDefinition.newBuilder().setName("fo-" + i)
            .addPackages("busybox").setPort(80).setVcpus(1).setMemoryMb(64).build());
      }
      FarmTables tables = new FarmTables(postgres.jdbcUrl(), postgres.user());
      long epochBefore = tables.leaderEpoch();

      List<Call> calls = Collections.synchronizedList(new ArrayList<>());
      AttemptCounter attempts = new AttemptCounter();
      long killedAt;
      long promotedAt;
      ManagedChannel channel = NettyChannelBuilder.forTarget(farm.target()).usePlaintext()
          .intercept(attempts).build();
      try (FarmClient retrying = new FarmClient(channel, FarmClientOptions.builder()
          .bearerToken(Files.readString(farm.adminTokenFile()).strip())
          .maxAttempts(100).initialBackoff(Duration.ofMillis(100))
          .maxBackoff(Duration.ofMillis(500)).callDeadline(Duration.ofSeconds(60))
          .requestServiceDeadline(Duration.ofSeconds(60)).build())) {
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        long end = System.nanoTime() + LOAD.toNanos();
        AtomicInteger next = new AtomicInteger();
        for (int c = 0; c < CLIENTS; c++) {
          clients.execute(() -> load(retrying, calls, next, end));
        }
        Thread.sleep(LOAD.toMillis() / 3);
        killedAt = System.nanoTime();
        postgres.killPrimary();
        Thread.sleep(NO_PRIMARY.toMillis());
        postgres.promoteStandby();
        promotedAt = System.nanoTime();
        clients.shutdown();
        assertTrue(clients.awaitTermination(LOAD.toSeconds() + 120, TimeUnit.SECONDS));
      } finally {
        channel.shutdownNow();
      }

      List<Call> failed = calls.stream().filter(c -> c.failure() != null).toList();
      assertEquals(List.of(), failed, "requests failed despite the SDK's retries");
      assertEquals(List.of(), attempts.otherFailures(),
          "attempts the farm answered with a failure (not a transport cut)");
      assertTrue(attempts.transportCuts() > 0, "no attempt failed: the failover was not noticed");
      double recovered = calls.stream().filter(c -> c.startNanos() > killedAt)
          .mapToLong(Call::endNanos).filter(t -> t > promotedAt).min().stream()
          .mapToDouble(t -> (t - promotedAt) / 1e9).findFirst()
          .orElseThrow(() -> new AssertionError("no request succeeded after the promotion\n"
              + farm.logs()));

      // The same controller process leads again (a new epoch) and the agents came back to it.
      assertEquals(controllerPid, farm.controllerPid());
      farm.awaitTrue("the controller leads on the new primary", Duration.ofSeconds(60),
          () -> tables.leaderEpoch() > epochBefore);
      farm.awaitConnected(HOSTS);
      // Provisioning works on the new primary too.
      admin.defineService(ServiceDefinition.newBuilder().setName("fo-after")
          .addPackages("busybox").setPort(80).setVcpus(1).setMemoryMb(64).build());
      assertEquals(VmState.VM_STATE_ACTIVE, admin.requestService("fo-after").state());

      // What was acknowledged is on the new primary, once.
      FarmTables promoted = new FarmTables(postgres.standbyUrl(), postgres.user());
      List<String> leases = calls.stream().filter(c -> c.failure() == null).map(Call::leaseId)
          .toList();
      long leasesLost = leases.size() - promoted.countLeases(leases);
      long leasesDoubled = promoted.keysWithSeveralLeases();
      List<String> vmIds = calls.stream().filter(c -> c.failure() == null).map(Call::vmId)
          .distinct().toList();
      long vmsLost = vmIds.size() - promoted.countLiveVms(vmIds);
      long vmsDoubled = promoted.definitionsWithSeveralLiveVms();
      FarmTables.EventCheck events = promoted.checkEventChains();
      assertEquals(0, leasesLost, "acknowledged leases lost");
      assertEquals(0, leasesDoubled, "idempotency keys holding two leases");
      assertEquals(0, vmsLost, "acknowledged VMs lost");
      assertEquals(0, vmsDoubled, "services with two VMs");
      assertEquals(List.of(), events.broken(), "VMs whose event history is not one unbroken chain");
      System.out.printf("database failover: requests=%d, failed=%d (after SDK retries),"
              + " attempts cut and retried=%d, other failures=0, without a primary for"
              + " %.1f s, recovered %.1f s after the promotion, leader epoch %d -> %d,"
              + " leases lost 0 doubled 0, VMs lost 0 doubled 0, events checked %d lost 0"
              + " doubled 0%n", calls.size(), failed.size(), attempts.transportCuts(),
          (promotedAt - killedAt) / 1e9, recovered, epochBefore, tables.leaderEpoch(),
          events.checked());
    }
  }

  /** One client: a new idempotency key each call, on the services in turn. */
  private static void load(FarmClient client, List<Call> calls, AtomicInteger next, long end) {
    while (System.nanoTime() < end) {
      int n = next.getAndIncrement();
      String key = "failover-" + n;
      String service = "fo-" + (n % SERVICES);
      long start = System.nanoTime();
      try {
        ServiceAccess access = client.requestService(service, key);
        calls.add(new Call(key, service, start, System.nanoTime(), access.vmId(),
            access.lease().id(), null));
      } catch (FarmException e) {
        calls.add(new Call(key, service, start, System.nanoTime(), null, null, e.code()));
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
