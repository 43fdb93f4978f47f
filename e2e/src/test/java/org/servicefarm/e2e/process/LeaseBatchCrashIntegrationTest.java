package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.controller.reconcile.Failpoints;
import org.servicefarm.e2e.support.BulkFarmRows;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.StandalonePostgres;

/**
 * The controller halted (as abruptly as SIGKILL) at each boundary of a group commit of warm
 * requests: with the batch's statements run but not committed, and committed but nobody
 * answered. After a restart every request of the batch is there whole (its lease and its
 * operation, naming each other) or not at all, never half; each key sent again gets exactly one
 * lease (the committed one, when its batch committed) on the one VM of the service. Real
 * processes, an agent on libvirt's test driver, a PostgreSQL server of the test's own so the rows
 * can be read.
 */
class LeaseBatchCrashIntegrationTest {
  private static final String HOST = "batch-1";
  private static final String SERVICE = "batch-web";
  private static final int CALLERS = 16;
  private static final Duration TTL = Duration.ofSeconds(600);
  private static final Duration BOUND = Duration.ofSeconds(30);

  /** A key's rows: its operations, its leases, and whether every operation names its lease. */
  private record KeyRows(int operations, int leases, boolean operationsNameTheirLease,
      Set<String> leaseIds) {}

  @Test
  void aControllerHaltedAtEitherBoundaryOfALeaseBatchLeavesEachRequestWholeOrAbsent()
      throws Exception {
    try (StandalonePostgres pg = new StandalonePostgres(Files.createTempDirectory("servicefarm-pg"));
        ProcessFarm farm = new ProcessFarm("test:///default")) {
      farm.useDatabase(pg);
      farm.startController();
      farm.startAgent(HOST);
      farm.awaitConnected(List.of(HOST));
      FarmClient admin = farm.client();
      admin.defineService(ServiceDefinition.newBuilder().setName(SERVICE).addPackages("busybox")
          .setPort(80).setVcpus(1).setMemoryMb(128).build());
      String vm = admin.requestService(SERVICE, "first", TTL).vmId();

      for (String point : Failpoints.LEASE_BATCH) {
        farm.killController();
        farm.startController(List.of(), Map.of(Failpoints.ENV, point));
        farm.awaitConnected(List.of(HOST));
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < CALLERS; i++) {
          keys.add(point + "-" + i);
        }
        crashAt(farm, point, keys);
        farm.startController();
        farm.awaitConnected(List.of(HOST));

        Map<String, KeyRows> before = new HashMap<>();
        try (Connection c = BulkFarmRows.connect(pg)) {
          for (String key : keys) {
            KeyRows rows = rows(c, key);
            before.put(key, rows);
            assertTrue(rows.operations() == rows.leases() && rows.operations() <= 1
                && rows.operationsNameTheirLease(), "key " + key + " half there after the halt"
                + " at " + point + ": " + rows);
          }
        }
        long committed = before.values().stream().filter(r -> r.leases() == 1).count();
        if (point.endsWith(".written")) {
          assertEquals(0, committed, "a batch halted before its commit left rows");
        } else {
          assertTrue(committed > 0, "the batch halted after its commit left no rows");
        }

        for (String key : keys) {
          ServiceAccess again = retried(() -> admin.requestService(SERVICE, key, TTL));
          assertEquals(vm, again.vmId(), "key " + key + " answered on another VM");
          if (!before.get(key).leaseIds().isEmpty()) {
            assertEquals(before.get(key).leaseIds(), Set.of(again.lease().id()),
                "key " + key + " committed before the halt got another lease");
          }
          try (Connection c = BulkFarmRows.connect(pg)) {
            KeyRows after = rows(c, key);
            assertEquals(1, after.leases(), "key " + key + " holds " + after.leases() + " leases");
            assertEquals(1, after.operations(), "key " + key + ": " + after);
          }
          admin.renewLease(again.lease().id(), TTL); // throws when the lease is not live
        }
        assertEquals(1, admin.listVms().stream().filter(v -> v.getDefinition().equals(SERVICE))
            .count(), "one VM for the service, not one per batch");
        System.out.printf("lease batch halted at %s: %d of %d requests committed before the"
            + " halt, none half; each key's retry got one lease on the one VM%n", point,
            committed, CALLERS);
      }
    }
  }

  /** Sends the keyed requests together; the controller halts at the first batch's boundary. */
  private static void crashAt(ProcessFarm farm, String point, List<String> keys)
      throws Exception {
    try (FarmClient once = FarmClient.connect(FarmClientOptions.builder().target(farm.target())
        .plaintext(true).bearerToken(Files.readString(farm.adminTokenFile()).strip())
        .maxAttempts(1).callDeadline(BOUND).requestServiceDeadline(BOUND).build())) {
      CountDownLatch go = new CountDownLatch(1);
      java.util.concurrent.ExecutorService callers =
          java.util.concurrent.Executors.newFixedThreadPool(keys.size());
      List<CompletableFuture<ServiceAccess>> calls = new ArrayList<>();
      for (String key : keys) {
        calls.add(CompletableFuture.supplyAsync(() -> {
          try {
            go.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
          }
          return once.requestService(SERVICE, key, TTL);
        }, callers));
      }
      go.countDown();
      assertTrue(farm.awaitControllerExit(BOUND), "the controller did not halt at " + point
          + "\n" + farm.logs());
      String log = Files.readString(farm.dir().resolve("logs").resolve("controller.log"));
      assertTrue(log.contains("failpoint " + point + " hit"), "no halt line for " + point);
      for (CompletableFuture<ServiceAccess> call : calls) {
        try {
          call.get(BOUND.toSeconds(), TimeUnit.SECONDS);
          throw new AssertionError("a request was answered although its batch halted at "
              + point);
        } catch (ExecutionException e) {
          assertTrue(e.getCause() instanceof FarmException f
              && f.code() == io.grpc.Status.Code.UNAVAILABLE, "failed with " + e.getCause());
        }
      }
      callers.shutdown();
    }
  }

  private static KeyRows rows(Connection c, String key) throws Exception {
    int operations = 0;
    boolean named = true;
    Set<String> operationLeases = new HashSet<>();
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT lease_id FROM operations WHERE request_key = ?")) {
      ps.setString(1, key);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          operations++;
          String lease = rs.getString(1);
          named &= lease != null;
          operationLeases.add(lease);
        }
      }
    }
    Set<String> leases = new HashSet<>();
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT id FROM leases WHERE request_key = ?")) {
      ps.setString(1, key);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          leases.add(rs.getString(1));
        }
      }
    }
    return new KeyRows(operations, leases.size(), named && operationLeases.equals(leases), leases);
  }

  private static <T> T retried(java.util.function.Supplier<T> call) throws InterruptedException {
    long deadline = System.nanoTime() + BOUND.toNanos();
    while (true) {
      try {
        return call.get();
      } catch (FarmException e) {
        if (e.code() != io.grpc.Status.Code.UNAVAILABLE || System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(500);
      }
    }
  }
}
