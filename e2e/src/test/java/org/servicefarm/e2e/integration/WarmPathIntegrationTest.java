package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.OperationPhase;
import org.servicefarm.api.v1.OperationUpdate;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * The warm path's guarantees, now that it is one transaction with its operation recorded READY
 * and a shared lock for an uncapped definition's only VM: a key answers one lease however many
 * requests race with it, and a no_wait repeat follows the operation the first request recorded.
 */
class WarmPathIntegrationTest {
  private static InProcessFarm farm;
  private static FarmClient client;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    client = farm.client();
    farm.addHost("warm-1", 8, 4096);
    farm.awaitConnected(List.of("warm-1"));
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  private static void define(String name) {
    client.defineService(ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
        .setPort(80).setVcpus(1).setMemoryMb(64).build());
  }

  @Test
  void concurrentRequestsWithOneKeyOnARunningVmGetOneLease() throws Exception {
    define("warm-race");
    ServiceAccess first = client.requestService("warm-race");
    ExecutorService pool = Executors.newFixedThreadPool(16);
    try {
      List<Future<ServiceAccess>> answers = pool.invokeAll(Collections.nCopies(32,
          () -> client.requestService("warm-race", "one-key")));
      Set<String> leases = new HashSet<>();
      for (Future<ServiceAccess> a : answers) {
        ServiceAccess access = a.get();
        assertEquals(first.vmId(), access.vmId(), "the running VM answers");
        leases.add(access.lease().id());
      }
      assertEquals(1, leases.size(), "one key, one lease: " + leases);
    } finally {
      pool.shutdownNow();
    }
    List<String> rows = farm.db().query("SELECT state || '/' || phase FROM operations"
        + " WHERE request_key = 'one-key'", rs -> rs.getString(1));
    assertEquals(List.of("SUCCEEDED/READY"), rows, "one operation for the key, done");
    Set<String> liveOnKey = farm.db().query("SELECT id::text FROM leases WHERE request_key ="
            + " 'one-key' AND released_at IS NULL AND expires_at > now()", rs -> rs.getString(1))
        .stream().collect(Collectors.toSet());
    assertEquals(1, liveOnKey.size(), "the losers of the race wrote no lease: " + liveOnKey);
  }

  @Test
  void aNoWaitRepeatFollowsTheOperationTheWarmRequestRecorded() {
    define("warm-follow");
    client.requestService("warm-follow");
    ServiceAccess answered = client.requestService("warm-follow", "follow-key");
    RequestServiceResponse repeat = client.requestServiceNoWait("warm-follow", "follow-key");
    OperationUpdate done = client.watchOperation(repeat.getOperationId(), u -> { });
    assertEquals(OperationPhase.OPERATION_PHASE_READY, done.getPhase());
    assertEquals(answered.vmId(), done.getResult().getVmId());
    assertEquals(answered.lease().id(), done.getResult().getLease().getId(),
        "the operation carries the lease the request was answered with");
    assertEquals(answered.port(), done.getResult().getAccess().getPort());
  }
}
