package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.NoCapacityException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * Idempotency keys belong to the caller that sent them: two tokens sending one key are two
 * requests, and nothing one caller is answered (lease, operation, service name) reaches another.
 */
class CallerScopedKeysIntegrationTest {
  private static InProcessFarm farm;
  private static FarmClient admin;
  private static FarmClient alice;
  private static FarmClient bob;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    admin = farm.client();
    farm.addHost("sim-1", 8, 8192);
    farm.awaitConnected(List.of("sim-1"));
    alice = farm.clientWithToken(admin.tokens().create("alice", "client").getSecret());
    bob = farm.clientWithToken(admin.tokens().create("bob", "client").getSecret());
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  private static void define(String name, int maxLeasesPerVm) {
    admin.defineService(ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
        .setPort(80).setVcpus(1).setMemoryMb(256).setMaxLeasesPerVm(maxLeasesPerVm).build());
  }

  @Test
  void theSameKeyFromTwoTokensIsTwoRequestsWithTheirOwnLeases() {
    define("keyed-web", 0);
    ServiceAccess first = alice.requestService("keyed-web", "deploy-1");
    ServiceAccess second = bob.requestService("keyed-web", "deploy-1");
    assertNotEquals(first.lease().id(), second.lease().id(),
        "another caller's key never hands out the first caller's lease");
    assertEquals(first.lease().id(), alice.requestService("keyed-web", "deploy-1").lease().id(),
        "the same caller repeating its key still gets its own lease");
    // Bob's release ends his lease only; Alice's stays renewable.
    bob.releaseLease(second.lease().id());
    alice.renewLease(first.lease().id());
  }

  @Test
  void aNoWaitRepeatNeverHandsOutAnotherCallersOperation() {
    define("keyed-ops", 0);
    RequestServiceResponse first = alice.requestServiceNoWait("keyed-ops", "deploy-2");
    RequestServiceResponse second = bob.requestServiceNoWait("keyed-ops", "deploy-2");
    assertNotEquals(first.getOperationId(), second.getOperationId());
    assertEquals(first.getOperationId(),
        alice.requestServiceNoWait("keyed-ops", "deploy-2").getOperationId());
    // Nor can Bob follow Alice's operation when he learns its id: it does not exist for him.
    FarmException e = assertThrows(FarmException.class,
        () -> bob.watchOperation(first.getOperationId(), update -> { }));
    assertEquals(Status.Code.NOT_FOUND, e.code());
    assertTrue(alice.watchOperation(first.getOperationId(), update -> { }).getResult().hasAccess());
  }

  @Test
  void aKeyAnotherCallerUsedForAnotherServiceIsNotAConflictNamingIt() {
    define("secret-app", 0);
    define("public-app", 0);
    alice.requestService("secret-app", "deploy-3");
    ServiceAccess bobs = bob.requestService("public-app", "deploy-3");
    assertEquals("public-app", bobs.service());
    FarmException conflict = assertThrows(FarmException.class,
        () -> bob.requestService("secret-app", "deploy-3"));
    assertEquals(Status.Code.FAILED_PRECONDITION, conflict.code());
    assertTrue(conflict.getMessage().contains("public-app"), conflict.getMessage());
  }

  @Test
  void aRepeatWhoseLeaseEndedStillHonoursMaxLeasesPerVm() {
    define("one-seat", 1);
    ServiceAccess first = alice.requestService("one-seat", "seat-1");
    alice.releaseLease(first.lease().id());
    ServiceAccess bobs = bob.requestService("one-seat");
    assertEquals(first.vmId(), bobs.vmId(), "the one VM, its one seat now Bob's");
    NoCapacityException full = assertThrows(NoCapacityException.class,
        () -> alice.requestService("one-seat", "seat-1"));
    assertTrue(full.getMessage().contains("max_leases_per_vm"), full.getMessage());
    bob.renewLease(bobs.lease().id());
  }
}
