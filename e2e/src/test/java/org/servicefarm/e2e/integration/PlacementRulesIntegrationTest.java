package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.VmFilter;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * Placement rules on a farm of three racks of two hosts (zone a: racks r1 and r2; zone b: r3)
 * and two unracked hosts for the overcommit ratios, with the controller on in-process gRPC and
 * agents on libvirt's test driver. Rack r1's labels come from its agents' registration, the
 * others' from an admin. The tests share the farm and run in order: the spread is measured on
 * empty racks before rack r3 is filled.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PlacementRulesIntegrationTest {
  private static final Map<String, String> RACK_OF = Map.of("r1-a", "r1", "r1-b", "r1",
      "r2-a", "r2", "r2-b", "r2", "r3-a", "r3", "r3-b", "r3");
  private static InProcessFarm farm;
  private static FarmClient client;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    client = farm.client();
    farm.addHost("r1-a", 8, 4096, Map.of("zone", "a", "rack", "r1"));
    farm.addHost("r1-b", 8, 4096, Map.of("zone", "a", "rack", "r1"));
    for (String host : List.of("r2-a", "r2-b", "r3-a", "r3-b", "cores", "memory")) {
      farm.addHost(host, host.equals("cores") ? 2 : 8, host.equals("memory") ? 1024 : 4096);
    }
    farm.awaitConnected(List.of("r1-a", "r1-b", "r2-a", "r2-b", "r3-a", "r3-b", "cores",
        "memory"));
    for (String host : List.of("r2-a", "r2-b")) {
      client.labelHost(host, Map.of("zone", "a", "rack", "r2"), List.of());
    }
    for (String host : List.of("r3-a", "r3-b")) {
      client.labelHost(host, Map.of("zone", "b", "rack", "r3"), List.of());
    }
    client.labelHost("cores", Map.of("pool", "cores"), List.of());
    client.labelHost("memory", Map.of("pool", "memory"), List.of());
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  /** One VM per request, up to {@code max} VMs. */
  private static ServiceDefinition.Builder definition(String name, int vcpus, long memoryMb,
      int max) {
    return ServiceDefinition.newBuilder().setName(name).addPackages("busybox").setPort(80)
        .setVcpus(vcpus).setMemoryMb(memoryMb).setMaxLeasesPerVm(1).setMaxInstances(max);
  }

  private static List<Vm> vmsOf(String service) {
    return client.listVms(VmFilter.any().offering(service)).stream()
        .filter(vm -> vm.getState() != VmState.VM_STATE_DELETED).toList();
  }

  private static Map<String, Long> countBy(List<Vm> vms, Map<String, String> groupOf) {
    return vms.stream().collect(Collectors.groupingBy(
        vm -> groupOf.getOrDefault(vm.getHostId(), vm.getHostId()), TreeMap::new,
        Collectors.counting()));
  }

  private static void request(String service, int times) {
    for (int i = 0; i < times; i++) {
      client.requestService(service, service + "-" + i);
    }
  }

  @Test
  @Order(1)
  void labelsFromAgentsAndAdminsShowInTheHostList() {
    Map<String, Host> hosts = client.listHosts().stream()
        .collect(Collectors.toMap(Host::getId, h -> h));
    assertEquals(Map.of("zone", "a", "rack", "r1"), hosts.get("r1-a").getLabelsMap(),
        "reported by the agent");
    assertEquals(Map.of("zone", "b", "rack", "r3"), hosts.get("r3-b").getLabelsMap(),
        "set by an admin");
  }

  @Test
  @Order(2)
  void twelveInstancesOverThreeRacksOfTwoHostsLandWithSkewAtMostOne() {
    client.defineService(definition("up-svc", 1, 256, 12).setSpreadBy("rack").setSpreadHard(true)
        .build());
    request("up-svc", 12);

    List<Vm> vms = vmsOf("up-svc");
    assertEquals(12, vms.size());
    Map<String, Long> perRack = countBy(vms, RACK_OF);
    assertEquals(Map.of("r1", 4L, "r2", 4L, "r3", 4L), perRack, "even racks: " + perRack);
    Map<String, Long> perHost = countBy(vms, Map.of());
    assertEquals(6, perHost.size(), "anti-affinity uses every racked host: " + perHost);
    assertTrue(perHost.values().stream().allMatch(n -> n == 2), perHost.toString());
  }

  @Test
  @Order(3)
  void aHardSpreadWithOneRackFullRefusesNamingTheRuleAndASoftOnePlacesAnyway() {
    // Fill rack r3 to its last MB: 4096 less up-svc's two VMs of 256 on each host.
    client.defineService(definition("filler", 1, 3584, 2).putConstraints("rack", "r3").build());
    request("filler", 2);
    assertEquals(Map.of("r3-a", 1L, "r3-b", 1L), countBy(vmsOf("filler"), Map.of()));

    client.defineService(definition("hard-svc", 1, 512, 10).setSpreadBy("rack")
        .setSpreadHard(true).build());
    request("hard-svc", 2);
    assertEquals(Map.of("r1", 1L, "r2", 1L), countBy(vmsOf("hard-svc"), RACK_OF));
    FarmException refused = assertThrows(FarmException.class,
        () -> client.requestService("hard-svc", "hard-svc-third"));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.code(), refused.getMessage());
    assertTrue(refused.getMessage().contains("no host can take a VM of hard-svc"),
        refused.getMessage());
    // Racks r1 and r2 would hold 2 against r3's 0; the unracked hosts have no rack at all.
    assertTrue(refused.getMessage().contains(
        "6 hosts: ruled out by hard spread over rack (skew 1)"), refused.getMessage());
    assertTrue(refused.getMessage().contains("2 hosts: not enough free memory"),
        refused.getMessage());
    assertEquals(2, vmsOf("hard-svc").size(), "nothing was placed");

    client.defineService(definition("soft-svc", 1, 512, 10).setSpreadBy("rack").build());
    request("soft-svc", 3);
    Map<String, Long> soft = countBy(vmsOf("soft-svc"), RACK_OF);
    assertEquals(3, soft.values().stream().mapToLong(Long::longValue).sum(), soft.toString());
    assertTrue(soft.keySet().stream().allMatch(rack -> rack.equals("r1") || rack.equals("r2")),
        "past the skew on the racks with room, not on unracked hosts: " + soft);
  }

  @Test
  @Order(4)
  void aConstraintNeverPlacesOnAnotherZoneAndOneNoHostMeetsSaysSo() {
    client.defineService(definition("zone-svc", 1, 128, 6).putConstraints("zone", "a").build());
    request("zone-svc", 6);
    Map<String, Long> perRack = countBy(vmsOf("zone-svc"), RACK_OF);
    assertEquals(6, perRack.values().stream().mapToLong(Long::longValue).sum());
    assertTrue(perRack.keySet().stream().allMatch(rack -> rack.equals("r1") || rack.equals("r2")),
        "zone a is racks r1 and r2: " + perRack);

    client.defineService(definition("nowhere", 1, 128, 1).putConstraints("zone", "c").build());
    FarmException refused = assertThrows(FarmException.class,
        () -> client.requestService("nowhere", "nowhere-1"));
    assertEquals(Status.Code.FAILED_PRECONDITION, refused.code(), refused.getMessage());
    assertTrue(refused.getMessage().contains("8 hosts: ruled out by constraint zone=c"),
        refused.getMessage());
  }

  @Test
  @Order(5)
  void overcommitRatiosLetMoreVcpusThanCoresAndMemoryOneToOneRefusesBeyondMemory() {
    // 2 cores at the default 4.0: four VMs of 2 vCPUs, then no more until the ratio is raised.
    client.defineService(definition("cpu-svc", 2, 128, 10).putConstraints("pool", "cores")
        .build());
    request("cpu-svc", 4);
    assertEquals(4, vmsOf("cpu-svc").size());
    FarmException full = assertThrows(FarmException.class,
        () -> client.requestService("cpu-svc", "cpu-svc-fifth"));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, full.code());
    assertTrue(full.getMessage().contains("1 host: not enough free vCPUs"), full.getMessage());
    Host raised = client.setHostOvercommit("cores", 5.0, 0, false);
    assertEquals(5.0, raised.getCpuOvercommit());
    client.requestService("cpu-svc", "cpu-svc-fifth-again");
    assertEquals(5, vmsOf("cpu-svc").size(), "10 vCPUs on 2 cores at 5.0");

    // 1024 MB at 1.0: two VMs of 512, the third refused.
    client.defineService(definition("mem-svc", 1, 512, 10).putConstraints("pool", "memory")
        .build());
    request("mem-svc", 2);
    FarmException noMemory = assertThrows(FarmException.class,
        () -> client.requestService("mem-svc", "mem-svc-third"));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, noMemory.code());
    assertTrue(noMemory.getMessage().contains("1 host: not enough free memory"),
        noMemory.getMessage());
    assertEquals(2, vmsOf("mem-svc").size());
  }

  @Test
  @Order(6)
  void aDrainMovesVmsOnlyWhereTheirRulesAllow() {
    client.drainHost("r1-a");
    Await.until("r1-a empty, every up-svc and zone-svc VM ACTIVE again", Duration.ofSeconds(60),
        () -> client.listVms(VmFilter.any().onHost("r1-a")).stream()
                .allMatch(vm -> vm.getState() == VmState.VM_STATE_DELETED)
            && vmsOf("up-svc").stream().allMatch(vm -> vm.getState() == VmState.VM_STATE_ACTIVE)
            && vmsOf("zone-svc").stream()
                .allMatch(vm -> vm.getState() == VmState.VM_STATE_ACTIVE));

    Map<String, Long> zoneSvc = countBy(vmsOf("zone-svc"), RACK_OF);
    assertTrue(zoneSvc.keySet().stream().allMatch(rack -> rack.equals("r1") || rack.equals("r2")),
        "moved within zone a: " + zoneSvc);
    assertEquals(Map.of("r1", 4L, "r2", 4L, "r3", 4L), countBy(vmsOf("up-svc"), RACK_OF),
        "r1-a's up-svc VMs went to r1-b, the one host the hard spread allows");
  }
}
