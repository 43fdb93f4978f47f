package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Timestamp;
import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.HeldService;
import org.servicefarm.client.InvalidRequestException;
import org.servicefarm.client.Lease;
import org.servicefarm.client.NotFoundException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.client.VmFilter;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * Leases, the idle ladder and definitions with many VMs, on a real PostgreSQL with the controller
 * on in-process gRPC and agents on libvirt's test driver. The ladder ticks every 200 ms and the
 * definitions use rungs of seconds, so a VM's whole life fits in a test.
 */
class LeaseAndIdleLadderIntegrationTest {
  private static final Duration PATIENCE = Duration.ofSeconds(60);
  private static InProcessFarm farm;
  private static FarmClient client;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig().withIdleLadderTick(Duration.ofMillis(200)));
    client = farm.client();
    farm.addHost("roomy-1", 32, 16384);
    farm.addHost("roomy-2", 32, 16384);
    farm.awaitConnected(List.of("roomy-1", "roomy-2"));
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  private static ServiceDefinition.Builder definition(String name) {
    return ServiceDefinition.newBuilder().setName(name).addPackages("busybox").setPort(80)
        .setVcpus(1).setMemoryMb(64);
  }

  private static VmState state(String vmId) {
    return client.getVm(vmId).getState();
  }

  private static void awaitState(String vmId, VmState wanted) {
    Await.until("VM " + vmId + " " + wanted, PATIENCE, () -> state(vmId) == wanted);
  }

  private static List<Vm> vmsOf(String service) {
    return client.listVms(VmFilter.any().offering(service)).stream()
        .filter(vm -> vm.getState() != VmState.VM_STATE_DELETED).toList();
  }

  private static Instant instant(Timestamp t) {
    return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
  }

  @Test
  void anUnleasedVmSleepsThenIsArchivedAndARequestBringsItBack() {
    client.defineService(definition("napper").setSleepAfterSeconds(2).setArchiveAfterSeconds(4)
        .build());
    ServiceAccess first = client.requestService("napper");
    client.releaseLease(first.lease().id());

    awaitState(first.vmId(), VmState.VM_STATE_SLEEPING);
    awaitState(first.vmId(), VmState.VM_STATE_ARCHIVED);
    ServiceAccess back = client.requestService("napper");

    assertEquals(first.vmId(), back.vmId(), "the same VM comes back, not a new one");
    assertEquals(VmState.VM_STATE_ACTIVE, state(back.vmId()));
    assertEquals(1, client.getVm(back.vmId()).getLeases());
    client.releaseLease(back.lease().id());
  }

  @Test
  void aHeldServiceStaysActivePastSleepAfterAndSleepsOnceClosed() throws Exception {
    client.defineService(definition("held").setSleepAfterSeconds(2).build());
    String vmId;
    try (HeldService held = client.hold("held", Duration.ofSeconds(4))) {
      vmId = held.access().vmId();
      Instant firstExpiry = held.lease().expiresAt();
      // Without renewals the lease would end at 4 s and the VM sleep 2 s later.
      Thread.sleep(8_000);
      assertEquals(VmState.VM_STATE_ACTIVE, state(vmId), "held past sleep_after");
      assertTrue(held.lease().expiresAt().isAfter(firstExpiry), "renewed in the background");
      assertTrue(held.held());
      assertEquals(java.util.Optional.empty(), held.lastRenewalError());
      assertEquals(1, client.getVm(vmId).getLeases());
    }
    assertEquals(0, client.getVm(vmId).getLeases(), "closing released the lease");
    awaitState(vmId, VmState.VM_STATE_SLEEPING);
  }

  @Test
  void minActiveKeepsAWarmPoolRunningWithNoLeases() throws Exception {
    client.defineService(definition("pool").setMinActive(2).setMaxInstances(3)
        .setSleepAfterSeconds(1).build());
    Await.until("two VMs of pool ACTIVE", PATIENCE, () -> vmsOf("pool").stream()
        .filter(vm -> vm.getState() == VmState.VM_STATE_ACTIVE).count() == 2);

    Thread.sleep(3_000); // three times sleep_after, with no lease on either VM
    List<Vm> pool = vmsOf("pool");
    assertEquals(2, pool.size(), "the pool is built to min_active, not beyond: " + pool);
    assertTrue(pool.stream().allMatch(vm -> vm.getState() == VmState.VM_STATE_ACTIVE
        && vm.getLeases() == 0), "both still ACTIVE with no lease: " + pool);
  }

  @Test
  void leasesSpreadOverInstancesUpToTheLimitsAndReleasedVmsSleep() throws Exception {
    client.defineService(definition("spread").setMaxLeasesPerVm(2).setMaxInstances(3)
        .setSleepAfterSeconds(2).build());
    List<ServiceAccess> granted = requestConcurrently("spread", 6);

    Map<String, Long> leasesPerVm = granted.stream()
        .collect(Collectors.groupingBy(ServiceAccess::vmId, TreeMap::new, Collectors.counting()));
    assertEquals(3, leasesPerVm.size(), "six requests, two leases a VM: three VMs " + leasesPerVm);
    assertTrue(leasesPerVm.values().stream().allMatch(n -> n == 2), leasesPerVm.toString());
    assertTrue(vmsOf("spread").stream().allMatch(vm -> vm.getLeases() == 2));

    ServiceAccess seventh = client.requestService("spread");
    assertTrue(leasesPerVm.containsKey(seventh.vmId()), "at max_instances no fourth VM is built");
    granted.add(seventh);
    ServiceAccess eighth = client.requestService("spread");
    assertNotEquals(seventh.vmId(), eighth.vmId(), "the eighth goes to a VM with fewer leases");
    granted.add(eighth);
    assertEquals(3, vmsOf("spread").size());

    for (ServiceAccess access : granted) {
      client.releaseLease(access.lease().id());
    }
    for (String vmId : leasesPerVm.keySet()) {
      awaitState(vmId, VmState.VM_STATE_SLEEPING);
    }
  }

  @Test
  void concurrentRequestsShareRunningVmsEvenly() throws Exception {
    client.defineService(definition("fair").setMinActive(3).setMaxInstances(3).build());
    Await.until("three VMs of fair ACTIVE", PATIENCE, () -> vmsOf("fair").stream()
        .filter(vm -> vm.getState() == VmState.VM_STATE_ACTIVE).count() == 3);

    requestConcurrently("fair", 31);

    List<Integer> counts = vmsOf("fair").stream().map(Vm::getLeases).sorted().toList();
    assertEquals(3, counts.size());
    assertEquals(31, counts.stream().mapToInt(Integer::intValue).sum());
    assertTrue(counts.get(2) - counts.get(0) <= 1, "lease counts differ by more than one: " + counts);
  }

  @Test
  void leasesAreRenewedReleasedAndMoveLastUsed() {
    client.defineService(definition("renewable").build());
    ServiceAccess access = client.requestService("renewable", "renewable-1");
    Lease lease = access.lease();
    assertEquals(Duration.ofSeconds(60), lease.ttl(), "the default TTL");
    assertEquals(lease.id(), client.requestService("renewable", "renewable-1").lease().id(),
        "a repeated key answers the same lease");
    Instant granted = instant(client.getVm(access.vmId()).getLastUsedAt());

    Lease renewed = client.renewLease(lease.id(), Duration.ofSeconds(600));
    assertEquals(Duration.ofSeconds(600), renewed.ttl());
    assertTrue(renewed.expiresAt().isAfter(lease.expiresAt()));
    Instant afterRenewal = instant(client.getVm(access.vmId()).getLastUsedAt());
    assertTrue(afterRenewal.isAfter(granted), granted + " then " + afterRenewal);

    client.releaseLease(lease.id());
    client.releaseLease(lease.id()); // a retried release succeeds
    Vm released = client.getVm(access.vmId());
    assertTrue(instant(released.getLastUsedAt()).isAfter(afterRenewal));
    assertEquals(0, released.getLeases());

    FarmException again = assertThrows(FarmException.class, () -> client.renewLease(lease.id()));
    assertEquals(Status.Code.FAILED_PRECONDITION, again.code());
    assertTrue(again.getMessage().contains("released"), again.getMessage());
    String unknown = UUID.randomUUID().toString();
    NotFoundException missing = assertThrows(NotFoundException.class,
        () -> client.renewLease(unknown));
    assertTrue(missing.getMessage().contains(unknown), missing.getMessage());
  }

  @Test
  void badLeaseAndDefinitionSettingsAreRefusedNamingTheValue() {
    client.defineService(definition("picky").setSleepAfterSeconds(600)
        .setArchiveAfterSeconds(3600).setDeleteAfterSeconds(86400).setMaxLeasesPerVm(5)
        .setMaxInstances(2).build());
    InvalidRequestException ttl = assertThrows(InvalidRequestException.class,
        () -> client.requestService("picky", "picky-1", Duration.ofSeconds(3601)));
    assertTrue(ttl.getMessage().contains("lease_ttl_seconds: 3601"), ttl.getMessage());
    ServiceAccess access = client.requestService("picky");
    InvalidRequestException renewTtl = assertThrows(InvalidRequestException.class,
        () -> client.renewLease(access.lease().id(), Duration.ofSeconds(7200)));
    assertTrue(renewTtl.getMessage().contains("ttl_seconds: 7200"), renewTtl.getMessage());
    InvalidRequestException id = assertThrows(InvalidRequestException.class,
        () -> client.releaseLease("lease-42"));
    assertTrue(id.getMessage().contains("'lease-42'"), id.getMessage());

    InvalidRequestException pool = assertThrows(InvalidRequestException.class,
        () -> client.defineService(definition("picky").setMinActive(3).setMaxInstances(2).build()));
    assertTrue(pool.getMessage().contains("definition.min_active: 3")
        && pool.getMessage().contains("definition.max_instances (2)"), pool.getMessage());
    InvalidRequestException ladder = assertThrows(InvalidRequestException.class,
        () -> client.defineService(definition("picky").setSleepAfterSeconds(60)
            .setArchiveAfterSeconds(30).build()));
    assertTrue(ladder.getMessage().contains("definition.archive_after_seconds: 30"),
        ladder.getMessage());
    InvalidRequestException negative = assertThrows(InvalidRequestException.class,
        () -> client.defineService(definition("picky").setSleepAfterSeconds(-5).build()));
    assertTrue(negative.getMessage().contains("definition.sleep_after_seconds: -5"),
        negative.getMessage());
    // The refusals left the definition as it was, and the listing shows its settings.
    ServiceDefinition listed = client.listServiceDefinitions().stream()
        .filter(d -> d.getName().equals("picky")).findFirst().orElseThrow();
    assertEquals(List.of(600, 3600, 86400, 0, 5, 2), List.of(listed.getSleepAfterSeconds(),
        listed.getArchiveAfterSeconds(), listed.getDeleteAfterSeconds(), listed.getMinActive(),
        listed.getMaxLeasesPerVm(), listed.getMaxInstances()));
    client.releaseLease(access.lease().id());
  }

  private static List<ServiceAccess> requestConcurrently(String service, int requests)
      throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(requests);
    try {
      List<Future<ServiceAccess>> answers = new ArrayList<>();
      for (int i = 0; i < requests; i++) {
        answers.add(pool.submit(() -> client.requestService(service)));
      }
      List<ServiceAccess> granted = new ArrayList<>();
      for (Future<ServiceAccess> answer : answers) {
        granted.add(answer.get());
      }
      return granted;
    } finally {
      pool.shutdown();
    }
  }
}
