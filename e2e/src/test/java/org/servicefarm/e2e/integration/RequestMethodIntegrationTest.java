package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.servicefarm.api.v1.BundledService;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.ListServicesResponse;
import org.servicefarm.api.v1.OfferedService;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.FarmUnavailableException;
import org.servicefarm.client.InvalidRequestException;
import org.servicefarm.client.NoCapacityException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * Every branch of the request method on a real PostgreSQL, the controller on in-process gRPC and
 * agents on libvirt's test driver, all in this JVM.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RequestMethodIntegrationTest {
  private static InProcessFarm farm;
  private static FarmClient client;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    client = farm.client();
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  private static void define(String name, long memoryMb) {
    client.defineService(ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
        .setPort(80).setVcpus(1).setMemoryMb(memoryMb).build());
  }

  @Test
  @Order(1)
  void withNoHostsARequestIsUnavailableAndSaysWhy() {
    define("lonely", 256);
    FarmUnavailableException e = assertThrows(FarmUnavailableException.class,
        () -> client.requestService("lonely"));
    assertTrue(e.getMessage().contains("no farm hosts are registered"), e.getMessage());
    assertTrue(client.listVms().isEmpty(), "a failed placement leaves no VM behind");
  }

  @Test
  @Order(2)
  void hostsRegisterWithTheirCapacity() throws Exception {
    farm.addHost("sim-1", 4, 2048);
    farm.addHost("sim-2", 4, 2048);
    farm.awaitConnected(List.of("sim-1", "sim-2"));
    Host h = client.listHosts().stream().filter(x -> x.getId().equals("sim-1")).findFirst().orElseThrow();
    assertEquals(2048, h.getCapacity().getMemoryMb());
    assertEquals("test", h.getHypervisor());
  }

  @Test
  @Order(3)
  void everyTransitionOfAVmsLifeIsRecordedInOrder() {
    define("lifecycle", 256);
    ServiceAccess a = client.requestService("lifecycle");
    client.suspendVm(a.vmId(), true);
    client.requestService("lifecycle");
    client.archiveVm(a.vmId(), true);
    client.requestService("lifecycle");
    client.deleteVm(a.vmId(), true);
    List<String> states = new EventRepository().forVm(farm.db(), UUID.fromString(a.vmId())).stream()
        .filter(e -> e.kind().equals("VM_STATE")).map(e -> e.fromState() + "->" + e.toState()).toList();
    assertEquals(List.of("null->PROVISIONING", "PROVISIONING->STARTING", "STARTING->ACTIVE",
        "ACTIVE->SLEEPING", "SLEEPING->ACTIVE", "ACTIVE->ARCHIVING", "ARCHIVING->ARCHIVED",
        "ARCHIVED->RESTORING", "RESTORING->STARTING", "STARTING->ACTIVE", "ACTIVE->DELETING",
        "DELETING->DELETED"), states);
  }

  @Test
  @Order(4)
  void aRepeatedIdempotencyKeyAnswersTheSameResult() {
    define("keyed", 256);
    ServiceAccess first = client.requestService("keyed", "order-7");
    ServiceAccess again = client.requestService("keyed", "order-7");
    assertEquals(first, again, "the same key answers the same result, created flag included");
    assertTrue(again.created());
    define("other", 256);
    FarmException e = assertThrows(FarmException.class, () -> client.requestService("other", "order-7"));
    assertEquals(Status.Code.FAILED_PRECONDITION, e.code());
    assertTrue(e.getMessage().contains("order-7"), e.getMessage());
  }

  @Test
  @Order(5)
  void listServicesShowsWhatIsOfferedAndWhatCanBeBuilt() {
    client.defineService(ServiceDefinition.newBuilder().setName("shop").addPackages("nginx")
        .setPort(80).addBundled(BundledService.newBuilder().setName("shop-admin").setPort(81))
        .build());
    ListServicesResponse before = client.listServices();
    assertTrue(before.getConstructibleList().containsAll(List.of("shop", "shop-admin")));
    ServiceAccess shop = client.requestService("shop");
    ListServicesResponse after = client.listServices();
    OfferedService admin = after.getOfferedList().stream()
        .filter(o -> o.getName().equals("shop-admin")).findFirst().orElseThrow();
    assertEquals(List.of(shop.vmId()), admin.getVmIdsList());
    assertEquals(1, admin.getActiveVms());
    assertFalse(after.getConstructibleList().contains("shop-admin"));
  }

  @Test
  @Order(6)
  void badInputIsRefusedNamingTheFieldAndValue() {
    InvalidRequestException name = assertThrows(InvalidRequestException.class,
        () -> client.requestService("Not A Name"));
    assertTrue(name.getMessage().contains("service: 'Not A Name'"), name.getMessage());
    InvalidRequestException both = assertThrows(InvalidRequestException.class,
        () -> client.defineService(ServiceDefinition.newBuilder().setName("x").addPackages("a")
            .setImage("img").setPort(80).build()));
    assertTrue(both.getMessage().contains("not both"), both.getMessage());
    InvalidRequestException vm = assertThrows(InvalidRequestException.class,
        () -> client.getVm("42"));
    assertTrue(vm.getMessage().contains("'42'"), vm.getMessage());
    FarmException taken = assertThrows(FarmException.class, () -> client.defineService(
        ServiceDefinition.newBuilder().setName("thief").addPackages("a").setPort(80)
            .addBundled(BundledService.newBuilder().setName("shop-admin").setPort(81)).build()));
    assertTrue(taken.getMessage().contains("shop-admin is offered by definition shop"),
        taken.getMessage());
  }

  @Test
  @Order(7)
  void placementNeverOvercommitsAHostUnderConcurrentRequests() throws Exception {
    // sim-1 and sim-2 have 2048 MB each; some is taken. 16 services of 512 MB race for the rest.
    ExecutorService pool = Executors.newFixedThreadPool(16);
    List<Future<ServiceAccess>> answers = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      define("race-" + i, 512);
      String name = "race-" + i;
      answers.add(pool.submit(() -> client.requestService(name)));
    }
    int granted = 0;
    int refused = 0;
    for (Future<ServiceAccess> f : answers) {
      try {
        f.get();
        granted++;
      } catch (java.util.concurrent.ExecutionException e) {
        assertTrue(e.getCause() instanceof NoCapacityException, "unexpected " + e.getCause());
        refused++;
      }
    }
    pool.shutdown();
    assertEquals(16, granted + refused);
    assertTrue(granted > 0 && refused > 0, granted + " granted, " + refused + " refused");
    for (Host h : client.listHosts()) {
      assertTrue(h.getAllocatedMemoryMb() <= h.getCapacity().getMemoryMb(),
          h.getId() + " overcommitted: " + h.getAllocatedMemoryMb() + " MB");
    }
  }

  @Test
  @Order(8)
  void aSilentHostGoesDownAndItsVmsReturnWhenItsAgentDoes() {
    define("steady", 64);
    ServiceAccess a = client.requestService("steady");
    String hostId = client.getVm(a.vmId()).getHostId();
    farm.stopAgent(hostId);
    Await.until("host " + hostId + " DOWN and VM UNKNOWN", Duration.ofSeconds(15), () ->
        client.getVm(a.vmId()).getState() == VmState.VM_STATE_UNKNOWN);
    FarmUnavailableException e = assertThrows(FarmUnavailableException.class,
        () -> client.requestService("steady"));
    assertTrue(e.getMessage().contains(hostId), e.getMessage());

    farm.startAgent(hostId);
    Await.until("VM ACTIVE again", Duration.ofSeconds(15), () ->
        client.getVm(a.vmId()).getState() == VmState.VM_STATE_ACTIVE);
    ServiceAccess back = client.requestService("steady");
    assertEquals(a.vmId(), back.vmId(), "the same VM, not a duplicate");
    assertEquals(a.endpoint(), back.endpoint());
  }
}
