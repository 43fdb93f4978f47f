package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.servicefarm.api.v1.BundledService;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.NoCapacityException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.client.ServiceNotFoundException;
import org.servicefarm.client.VmFilter;
import org.servicefarm.e2e.support.ProcessFarm;

/**
 * The request method end to end on real processes: one controller (embedded PostgreSQL) and three
 * agents on libvirt's test driver, driven through the SDK as a client would.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FarmEndToEndTest {
  private static final List<String> HOSTS = List.of("host-a", "host-b", "host-c");
  private static ProcessFarm farm;
  private static FarmClient client;

  @BeforeAll
  static void startFarm() throws Exception {
    farm = new ProcessFarm("test:///default");
    farm.startController();
    for (String host : HOSTS) {
      farm.startAgent(host);
    }
    farm.awaitConnected(HOSTS);
    client = farm.client();
  }

  @AfterAll
  static void stopFarm() throws Exception {
    if (farm != null) {
      farm.close();
    }
  }

  private static void define(String name, long memoryMb, BundledService... bundled) {
    client.defineService(ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
        .setCommand("busybox httpd -f -p 80").setPort(80).setVcpus(1).setMemoryMb(memoryMb)
        .addAllBundled(List.of(bundled)).build());
  }

  @Test
  @Order(1)
  void newServicesSpreadAcrossTheLeastLoadedHosts() {
    // Half a host each: allocation outweighs the noise of the CPU use the hosts report.
    for (int i = 1; i <= 3; i++) {
      define("spread-" + i, 4096);
    }
    Set<String> hostsUsed = new HashSet<>();
    for (int i = 1; i <= 3; i++) {
      ServiceAccess access = client.requestService("spread-" + i);
      assertTrue(access.created(), "spread-" + i + " should be built anew");
      assertEquals(VmState.VM_STATE_ACTIVE, access.state());
      hostsUsed.add(client.getVm(access.vmId()).getHostId());
    }
    assertEquals(Set.copyOf(HOSTS), hostsUsed, "three new VMs should land on three empty hosts");
  }

  @Test
  @Order(2)
  void aSecondRequestReusesTheRunningVm() {
    define("reuse", 256);
    ServiceAccess first = client.requestService("reuse");
    ServiceAccess second = client.requestService("reuse");
    assertTrue(first.created());
    assertFalse(second.created());
    assertEquals(first.vmId(), second.vmId());
    assertEquals(first.endpoint(), second.endpoint());
    assertEquals(1, client.listVms(VmFilter.any().offering("reuse")).size());
  }

  @Test
  @Order(3)
  void aVmDefinedWithTwoServicesAnswersBoth() {
    define("mail", 512, BundledService.newBuilder().setName("mail-admin").setPort(8080).build());
    ServiceAccess mail = client.requestService("mail");
    ServiceAccess admin = client.requestService("mail-admin");
    assertEquals(mail.vmId(), admin.vmId(), "both services come from one VM");
    assertFalse(admin.created());
    assertNotEquals(mail.port(), admin.port(), "each service has its own forwarded port");
    Vm vm = client.getVm(mail.vmId());
    assertEquals(Set.of("mail", "mail-admin"), Set.copyOf(vm.getServicesList()));
  }

  @Test
  @Order(4)
  void requestingASleepingVmWakesIt() {
    define("sleepy", 256);
    ServiceAccess first = client.requestService("sleepy");
    Vm slept = client.suspendVm(first.vmId(), true);
    assertEquals(VmState.VM_STATE_SLEEPING, slept.getState());
    ServiceAccess woken = client.requestService("sleepy");
    assertEquals(first.vmId(), woken.vmId());
    assertEquals(VmState.VM_STATE_ACTIVE, woken.state());
    assertFalse(woken.created());
  }

  @Test
  @Order(5)
  void requestingAnArchivedVmRestoresIt() {
    define("dusty", 256);
    ServiceAccess first = client.requestService("dusty");
    Vm archived = client.archiveVm(first.vmId(), true);
    assertEquals(VmState.VM_STATE_ARCHIVED, archived.getState());
    assertEquals("", archived.getHostId(), "an archived VM holds no host");
    ServiceAccess restored = client.requestService("dusty");
    assertEquals(first.vmId(), restored.vmId());
    assertEquals(VmState.VM_STATE_ACTIVE, client.getVm(restored.vmId()).getState());
  }

  @Test
  @Order(6)
  void deleteRemovesTheDomainFromItsHost() {
    define("doomed", 256);
    ServiceAccess access = client.requestService("doomed");
    String hostId = client.getVm(access.vmId()).getHostId();
    farm.awaitTrue("host " + hostId + " reports the new domain", Duration.ofSeconds(20),
        () -> hostVmCount(hostId) == activeOn(hostId));
    int before = hostVmCount(hostId);
    Vm deleted = client.deleteVm(access.vmId(), true);
    assertEquals(VmState.VM_STATE_DELETED, deleted.getState());
    // The agent counts the farm domains libvirt has; the deleted one must be gone from it.
    farm.awaitTrue("host " + hostId + " reports one domain less", Duration.ofSeconds(20),
        () -> hostVmCount(hostId) == before - 1);
    assertTrue(client.listServices().getConstructibleList().contains("doomed"),
        "a deleted VM no longer offers its service; the catalog still can build it");
  }

  @Test
  @Order(7)
  void anUnknownServiceIsNotFoundByName() {
    ServiceNotFoundException e = assertThrows(ServiceNotFoundException.class,
        () -> client.requestService("no-such-service"));
    assertTrue(e.getMessage().contains("no-such-service"), e.getMessage());
  }

  @Test
  @Order(8)
  void aServiceTooBigForAnyHostSaysWhy() {
    define("whale", 100_000);
    NoCapacityException e = assertThrows(NoCapacityException.class,
        () -> client.requestService("whale"));
    assertTrue(e.getMessage().contains("3 hosts: not enough free memory"), e.getMessage());
    assertTrue(client.listVms(VmFilter.any().offering("whale")).isEmpty(), "nothing was built");
  }

  @Test
  @Order(9)
  void fiftyConcurrentRequestsForAMissingServiceBuildOneVm() throws Exception {
    define("burst", 256);
    ExecutorService pool = Executors.newFixedThreadPool(50);
    try {
      List<Future<ServiceAccess>> answers = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        answers.add(pool.submit(() -> client.requestService("burst")));
      }
      Set<String> vmIds = new HashSet<>();
      int created = 0;
      for (Future<ServiceAccess> a : answers) {
        ServiceAccess access = a.get();
        vmIds.add(access.vmId());
        created += access.created() ? 1 : 0;
      }
      assertEquals(1, vmIds.size(), "every request answers the same VM");
      assertEquals(1, created, "exactly one request created it");
      assertEquals(1, client.listVms(VmFilter.any().offering("burst")).size());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  @Order(10)
  void aControllerRestartKeepsTheVmTable() throws Exception {
    Map<String, VmState> before = states();
    farm.killController();
    farm.startController();
    farm.awaitConnected(HOSTS);
    assertEquals(before, states(), "every VM is still there, in the same state");
    ServiceAccess again = client.requestService("reuse");
    assertFalse(again.created(), "the running VM is handed out again, not rebuilt");
  }

  private static Map<String, VmState> states() {
    return client.listVms().stream().collect(Collectors.toMap(Vm::getId, Vm::getState));
  }

  private static int hostVmCount(String hostId) {
    return client.listHosts().stream().filter(h -> h.getId().equals(hostId))
        .map(Host::getLoad).findFirst().orElseThrow().getVmCount();
  }

  private static long activeOn(String hostId) {
    return client.listVms(VmFilter.any().onHost(hostId)).stream()
        .filter(vm -> vm.getState() != VmState.VM_STATE_DELETED).count();
  }
}
