package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.BundledService;
import org.servicefarm.api.v1.DeleteServiceResponse;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.NotFoundException;
import org.servicefarm.client.PermissionDeniedException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.client.ServiceNotFoundException;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * FarmAdmin.DeleteService on a real PostgreSQL with the controller on in-process gRPC and an
 * agent on libvirt's test driver: what a deleted definition leaves, the refusal while it has VMs,
 * force, and defining the name again.
 */
class ServiceDeletionIntegrationTest {
  private static final Duration PATIENCE = Duration.ofSeconds(60);
  private static InProcessFarm farm;
  private static FarmClient client;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig().withIdleLadderTick(Duration.ofMillis(200)));
    client = farm.client();
    farm.addHost("del-host", 32, 16384);
    farm.awaitConnected(List.of("del-host"));
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  private static ServiceDefinition.Builder definition(String name) {
    return ServiceDefinition.newBuilder().setName(name).addPackages("busybox").setPort(80)
        .setVcpus(1).setMemoryMb(64);
  }

  private static boolean listed(String name) {
    return client.listServiceDefinitions().stream().anyMatch(d -> d.getName().equals(name));
  }

  private static void awaitState(String vmId, VmState wanted) {
    Await.until("VM " + vmId + " " + wanted, PATIENCE,
        () -> client.getVm(vmId).getState() == wanted);
  }

  @Test
  void deletingAnUnusedDefinitionRemovesItAndItsBundledServices() {
    client.defineService(definition("unused").addBundled(
        BundledService.newBuilder().setName("unused-metrics").setPort(9100)).build());

    DeleteServiceResponse deleted = client.deleteService("unused", false);

    assertEquals("unused", deleted.getName());
    assertEquals(List.of(), deleted.getDeletedVmIdsList());
    assertFalse(listed("unused"), "gone from ListServiceDefinitions");
    assertThrows(ServiceNotFoundException.class, () -> client.requestService("unused"));
    assertThrows(ServiceNotFoundException.class, () -> client.requestService("unused-metrics"));
    NotFoundException again =
        assertThrows(NotFoundException.class, () -> client.deleteService("unused", false));
    assertTrue(again.getMessage().contains("'unused'"), again.getMessage());
  }

  @Test
  void aDefinitionWithAVmIsRefusedWithoutForceAndForceDeletesTheVm() {
    client.defineService(definition("busy").build());
    ServiceAccess first = client.requestService("busy");

    FarmException refused =
        assertThrows(FarmException.class, () -> client.deleteService("busy", false));
    assertEquals(Status.Code.FAILED_PRECONDITION, refused.code());
    assertTrue(refused.getMessage().contains("1 VM (" + first.vmId() + ")"), refused.getMessage());
    assertTrue(refused.getMessage().contains("--force"), refused.getMessage());
    assertTrue(listed("busy"), "a refusal changes nothing");
    assertEquals(VmState.VM_STATE_ACTIVE, client.getVm(first.vmId()).getState());

    DeleteServiceResponse deleted = client.deleteService("busy", true);

    assertEquals(List.of(first.vmId()), deleted.getDeletedVmIdsList());
    assertFalse(listed("busy"));
    assertThrows(ServiceNotFoundException.class, () -> client.requestService("busy"));
    FarmException renew =
        assertThrows(FarmException.class, () -> client.renewLease(first.lease().id()));
    assertEquals(Status.Code.FAILED_PRECONDITION, renew.code(), "the lease ends with its VM");
    awaitState(first.vmId(), VmState.VM_STATE_DELETED);

    client.defineService(definition("busy").build());
    ServiceAccess revived = client.requestService("busy");

    assertTrue(revived.created(), "defining the name again builds a new VM on request");
    assertNotEquals(first.vmId(), revived.vmId());
    assertEquals(VmState.VM_STATE_ACTIVE, revived.state());
  }

  @Test
  void aForcedDeletionOfAWarmPoolLeavesNoVmBehind() throws Exception {
    client.defineService(definition("pooled").setMinActive(1).build());
    Await.until("the warm pool's VM", PATIENCE, () -> poolVms().size() == 1
        && client.getVm(poolVms().get(0)).getState() == VmState.VM_STATE_ACTIVE);
    String pooled = poolVms().get(0);

    assertEquals(List.of(pooled), client.deleteService("pooled", true).getDeletedVmIdsList());

    awaitState(pooled, VmState.VM_STATE_DELETED);
    Thread.sleep(1_000); // five ladder ticks: none may refill the pool of a deleted definition
    assertEquals(List.of(), poolVms());
  }

  /** The VMs of "pooled" that are not deleted, as the VM table has them. */
  private static List<String> poolVms() {
    return farm.db().query("SELECT id::text FROM vms WHERE definition = 'pooled'"
        + " AND state <> 'DELETED'", rs -> rs.getString(1));
  }

  @Test
  void anUnknownNameIsNotFoundAndABadOneInvalid() {
    NotFoundException unknown =
        assertThrows(NotFoundException.class, () -> client.deleteService("never-defined", true));
    assertTrue(unknown.getMessage().contains("'never-defined'"), unknown.getMessage());
    FarmException invalid =
        assertThrows(FarmException.class, () -> client.deleteService("Not_A_Name", false));
    assertEquals(Status.Code.INVALID_ARGUMENT, invalid.code());
    assertTrue(invalid.getMessage().contains("Not_A_Name"), invalid.getMessage());
  }

  @Test
  void aClientTokenMayNotDelete() {
    client.defineService(definition("guarded").build());
    String secret = client.tokens().create("deleter", "client").getSecret();

    PermissionDeniedException e = assertThrows(PermissionDeniedException.class,
        () -> farm.clientWithToken(secret).deleteService("guarded", true));

    assertEquals(Status.Code.PERMISSION_DENIED, e.code());
    assertTrue(e.getMessage().contains("servicefarm.v1.FarmAdmin/DeleteService"), e.getMessage());
    assertTrue(listed("guarded"));
  }
}
