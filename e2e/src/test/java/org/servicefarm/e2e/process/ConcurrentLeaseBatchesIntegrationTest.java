package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.controller.db.BatchSizes;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * Warm requests, renewals and releases commit in shared batches (group commit); under many
 * concurrent callers none of them is lost or doubled: every answered lease is in the table and
 * live, a key sent by several callers at once gets one lease, every answer names the one VM, a
 * released lease is over, and a definition with max_leases_per_vm (decided alone, under its
 * exclusive lock, while the others batch) is never pushed past its cap.
 */
class ConcurrentLeaseBatchesIntegrationTest {
  private static final int THREADS = 32;
  private static final Duration TTL = Duration.ofSeconds(600);
  private static InProcessFarm farm;
  private static FarmClient client;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    client = farm.client();
    farm.addHost("batch-sim-1", 8, 8192);
    farm.awaitConnected(List.of("batch-sim-1"));
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  private static ServiceDefinition.Builder definition(String name) {
    return ServiceDefinition.newBuilder().setName(name).addPackages("busybox").setPort(80)
        .setVcpus(1).setMemoryMb(128);
  }

  @Test
  void concurrentWarmRequestsRenewalsAndReleasesLoseAndDoubleNothing() throws Exception {
    client.defineService(definition("batched").build());
    String vm = client.requestService("batched", "warm-up", TTL).vmId();
    BatchSizes.Snapshot before = farm.controller().leaseBatches().snapshot();

    // 400 requests over 200 keys: each key sent by two callers at once.
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    List<Future<ServiceAccess>> answers = new ArrayList<>();
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      String key = "k-" + i;
      keys.add(key);
      answers.add(pool.submit(() -> client.requestService("batched", key, TTL)));
      answers.add(pool.submit(() -> client.requestService("batched", key, TTL)));
    }
    Map<String, Set<String>> leasesByKey = new ConcurrentHashMap<>();
    for (int i = 0; i < answers.size(); i++) {
      ServiceAccess a = answers.get(i).get(60, TimeUnit.SECONDS);
      assertEquals(vm, a.vmId(), "a warm request answered another VM");
      leasesByKey.computeIfAbsent(keys.get(i / 2), k -> ConcurrentHashMap.newKeySet())
          .add(a.lease().id());
    }
    for (String key : keys) {
      assertEquals(1, leasesByKey.get(key).size(), "key " + key + " got two leases: "
          + leasesByKey.get(key));
      assertEquals(leasesByKey.get(key), leasesInTable(key), "key " + key + "'s rows");
    }

    // Renew every lease and release every other one, all at once.
    List<Future<?>> changes = new ArrayList<>();
    List<String> released = new ArrayList<>();
    List<String> kept = new ArrayList<>();
    for (int i = 0; i < keys.size(); i++) {
      String lease = leasesByKey.get(keys.get(i)).iterator().next();
      changes.add(pool.submit(() -> client.renewLease(lease, TTL)));
      if (i % 2 == 0) {
        released.add(lease);
        changes.add(pool.submit(() -> {
          client.releaseLease(lease);
          return null;
        }));
      } else {
        kept.add(lease);
      }
    }
    for (Future<?> change : changes) {
      try {
        change.get(60, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        // A renewal that came after (or during) its lease's release is refused, saying so.
        assertTrue(e.getCause() instanceof FarmException f
            && (f.getMessage().contains("released") || f.getMessage().contains("ended while"
                + " being renewed")), "unexpected " + e.getCause());
      }
    }
    pool.shutdown();
    for (String lease : kept) {
      client.renewLease(lease, TTL); // throws when the lease was lost
    }
    for (String lease : released) {
      FarmException e = assertThrows(FarmException.class, () -> client.renewLease(lease, TTL));
      assertTrue(e.getMessage().contains("released"), e.getMessage());
    }
    BatchSizes.Snapshot window = farm.controller().leaseBatches().snapshot().minus(before);
    assertEquals(0, window.failed(), "a batch failed");
    assertTrue(window.batches() < window.callers(),
        "callers never shared a commit: " + window.distribution());
  }

  @Test
  void aCappedDefinitionIsNeverPushedPastItsCapWhileOtherRequestsBatch() throws Exception {
    client.defineService(definition("capped").setMaxLeasesPerVm(5).setMaxInstances(2).build());
    client.defineService(definition("uncapped").build());
    client.requestService("capped", "capped-first", TTL);
    client.requestService("uncapped", "uncapped-first", TTL);

    // Nine more capped requests fill the first VM and a second one, five each, while 45
    // uncapped requests commit in batches beside them.
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    List<Future<ServiceAccess>> all = new ArrayList<>();
    for (int i = 0; i < 9; i++) {
      String key = "capped-" + i;
      all.add(pool.submit(() -> client.requestService("capped", key, TTL)));
      for (int j = 0; j < 5; j++) {
        String other = "uncapped-" + i + "-" + j;
        all.add(pool.submit(() -> client.requestService("uncapped", other, TTL)));
      }
    }
    Map<String, Integer> cappedByVm = new ConcurrentHashMap<>();
    for (Future<ServiceAccess> f : all) {
      ServiceAccess a = f.get(60, TimeUnit.SECONDS);
      if (a.service().equals("capped")) {
        cappedByVm.merge(a.vmId(), 1, Integer::sum);
      }
    }
    pool.shutdown();
    assertEquals(2, cappedByVm.size(), "capped requests on " + cappedByVm);
    for (String vm : cappedByVm.keySet()) {
      long live = liveLeasesOn(vm);
      assertEquals(5, live, "VM " + vm + " holds " + live + " live leases; the cap is 5");
    }
  }

  private static Set<String> leasesInTable(String key) throws Exception {
    Set<String> ids = new HashSet<>();
    try (Connection c = farm.db().dataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT id FROM leases WHERE request_key = ?")) {
      ps.setString(1, key);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          ids.add(rs.getString(1));
        }
      }
    }
    return ids;
  }

  private static long liveLeasesOn(String vmId) throws Exception {
    try (Connection c = farm.db().dataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM leases WHERE vm_id = ?::uuid"
            + " AND released_at IS NULL AND expires_at > now()")) {
      ps.setString(1, vmId);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }
}
