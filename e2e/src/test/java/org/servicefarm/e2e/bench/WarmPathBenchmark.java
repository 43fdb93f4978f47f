package org.servicefarm.e2e.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.RequestServiceRequest;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.controller.db.BatchSizes;
import org.servicefarm.controller.db.Database;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.BenchmarkTable;

/**
 * Benchmark 1, the warm path: RequestService for a service whose VM is ACTIVE, over gRPC on
 * loopback with the controller's real PostgreSQL, at 1, 8 and 64 concurrent clients, beside two
 * floors measured in the same run: a bare unary echo on a Netty server with the same settings,
 * and the warm path's database statements alone through a pool of the controller's size.
 *
 * <p>Each client has its own channel (one HTTP/2 connection) and sends through the SDK's
 * FarmClient, with a fresh idempotency key per request, as an application would. Leases last
 * 1 s (the shortest TTL), so the live leases a request counts stay bounded by one second of
 * traffic however long the run. {@code -Dbench.seconds} sets the measured time per step
 * (default 8), {@code -Dbench.warmup} the warm-up (default 3), {@code -Dbench.clients} the
 * concurrencies (default 1,8,64).
 */
class WarmPathBenchmark {
  private static final String SERVICE = "warm-web";
  private static final int[] CLIENTS = java.util.Arrays.stream(
      System.getProperty("bench.clients", "1,8,64").split(",")).mapToInt(Integer::parseInt).toArray();
  /**
   * Statements the warm path sends per request, COMMIT included (Broker.decide: route with the
   * key and the lock, candidates, lease and operation rows, commit), which the database floor
   * sends as primary-key lookups in one transaction.
   */
  private static final int WARM_PATH_STATEMENTS = 4;
  private static final Duration MEASURE = Duration.ofSeconds(Long.getLong("bench.seconds", 8));
  private static final Duration WARM_UP = Duration.ofSeconds(Long.getLong("bench.warmup", 3));
  private static final Duration LEASE_TTL = Duration.ofSeconds(1);

  @Test
  void warmPath() throws Exception {
    try (WarmPathFarm farm = new WarmPathFarm(); EchoFloor echo = new EchoFloor()) {
      ManagedChannel adminChannel = WarmPathFarm.channel(farm.target());
      FarmClient admin = client(adminChannel);
      Await.until("the simulated host connected", Duration.ofSeconds(60),
          () -> admin.listHosts().stream().anyMatch(h -> h.getConnected()));
      admin.defineService(ServiceDefinition.newBuilder().setName(SERVICE).addPackages("busybox")
          .setPort(80).setVcpus(1).setMemoryMb(64).build());
      ServiceAccess first = admin.requestService(SERVICE);
      assertEquals(org.servicefarm.api.v1.VmState.VM_STATE_ACTIVE,
          admin.getVm(first.vmId()).getState(), "the VM is ACTIVE before the warm path is measured");
      UUID vmId = UUID.fromString(first.vmId());

      double txPerRequest = transactionsPerRequest(farm, admin);
      byte[] payload = RequestServiceRequest.newBuilder().setService(SERVICE)
          .setIdempotencyKey(UUID.randomUUID().toString()).setLeaseTtlSeconds(1).build()
          .toByteArray();
      BenchmarkTable table = new BenchmarkTable("Warm path (RequestService, VM ACTIVE)",
          "clients", "farm req/s", "farm p50", "farm p99", "echo req/s", "echo p99",
          "farm / echo", "farm p99 / echo p99", "commits per request", "batch sizes (share of"
          + " batches)", "db floor req/s", "db floor p99", "db write floor req/s",
          "db write floor p99");
      try (Database floorPool = new Database(farm.jdbcUrl(), farm.user(), "",
          WarmPathFarm.POOL_SIZE)) {
        for (int clients : CLIENTS) {
          List<ManagedChannel> channels = new ArrayList<>();
          BatchSizes.Snapshot batchesBefore = farm.controller().leaseBatches().snapshot();
          ClosedLoopLoad.Result farmResult = ClosedLoopLoad.run(clients, WARM_UP, MEASURE, i -> {
            ManagedChannel ch = WarmPathFarm.channel(farm.target());
            channels.add(ch);
            FarmClient c = client(ch);
            return () -> c.requestService(SERVICE, UUID.randomUUID().toString(), LEASE_TTL);
          });
          BatchSizes.Snapshot batches =
              farm.controller().leaseBatches().snapshot().minus(batchesBefore);
          ClosedLoopLoad.Result echoResult = ClosedLoopLoad.run(clients, WARM_UP, MEASURE, i -> {
            ManagedChannel ch = WarmPathFarm.channel(echo.target());
            channels.add(ch);
            return () -> EchoFloor.call(ch, payload);
          });
          ClosedLoopLoad.Result dbResult = ClosedLoopLoad.run(clients, WARM_UP, MEASURE,
              i -> () -> floorPool.inTransaction(tx -> {
                for (int s = 0; s < WARM_PATH_STATEMENTS - 1; s++) {
                  tx.queryOne("SELECT state FROM vms WHERE id = ?", rs -> rs.getString(1), vmId)
                      .orElseThrow();
                }
                return null;
              }));
          ClosedLoopLoad.Result writeResult = ClosedLoopLoad.run(clients, WARM_UP, MEASURE,
              i -> () -> floorPool.inTransaction(tx -> {
                for (int s = 0; s < WARM_PATH_STATEMENTS - 2; s++) {
                  tx.queryOne("SELECT state FROM vms WHERE id = ?", rs -> rs.getString(1), vmId)
                      .orElseThrow();
                }
                return tx.update("INSERT INTO leases (id, vm_id, service, ttl_seconds, expires_at)"
                    + " VALUES (?, ?, ?, 1, now() + interval '1 second')", UUID.randomUUID(), vmId,
                    SERVICE);
              }));
          channels.forEach(ManagedChannel::shutdownNow);
          table.row(clients, farmResult.rate(), farmResult.p50(), farmResult.p99(),
              echoResult.rate(), echoResult.p99(),
              String.format("%.2f", farmResult.perSecond() / echoResult.perSecond()),
              String.format("%.1f", (double) farmResult.p99Nanos() / echoResult.p99Nanos()),
              String.format("%.3f", (double) batches.batches() / Math.max(1, batches.callers())),
              batches.distribution(),
              dbResult.rate(), dbResult.p99(), writeResult.rate(), writeResult.p99());
        }
      }
      table.note(String.format("Closed loop, %d s warm-up then %d s measured per cell; each client"
          + " its own connection; SDK FarmClient with a fresh idempotency key and a 1 s lease per"
          + " request; no auth, no rate limit. The controller, the echo server and the clients"
          + " share one JVM. Database transactions per warm request: %.2f (pg_stat_database,"
          + " background loops included). db floor: %d primary-key lookups and a commit per"
          + " request through a HikariCP pool of %d, as many statements as the warm path sends."
          + " db write floor: the same with the last lookup a bare lease row on the VM, the write a"
          + " lease needs (its commit waits for the WAL flush, fsync on; its foreign key locks the"
          + " VM row). Commits per request and batch sizes: the group commit's batches (warm"
          + " requests, renewals and releases) over the farm's cell, warm-up included.",
          WARM_UP.toSeconds(), MEASURE.toSeconds(), txPerRequest, WARM_PATH_STATEMENTS - 1,
          WarmPathFarm.POOL_SIZE));
      table.publish("warm-path.md");
      admin.close();
      adminChannel.shutdownNow();
    }
  }

  private static FarmClient client(ManagedChannel channel) {
    return new FarmClient(channel, FarmClientOptions.builder().callDeadline(Duration.ofSeconds(30))
        .requestServiceDeadline(Duration.ofSeconds(30)).build());
  }

  /** Committed and rolled-back transactions of the farm's database per sequential request. */
  private static double transactionsPerRequest(WarmPathFarm farm, FarmClient client)
      throws InterruptedException {
    int requests = 2000;
    long before = transactions(farm.db());
    for (int i = 0; i < requests; i++) {
      client.requestService(SERVICE, UUID.randomUUID().toString(), LEASE_TTL);
    }
    // Other sessions' counters reach pg_stat_database at most once a second.
    Thread.sleep(1500);
    return (transactions(farm.db()) - before) / (double) requests;
  }

  private static long transactions(Database db) {
    return db.queryOne("SELECT xact_commit + xact_rollback FROM pg_stat_database"
        + " WHERE datname = current_database()", rs -> rs.getLong(1)).orElseThrow();
  }
}
