package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.servicefarm.api.v1.Event;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.ConflictException;
import org.servicefarm.client.EventFilter;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * Admin actions that would pull a VM from under its clients (suspend, archive, delete) are
 * refused while it holds live leases, naming how many, and forced they end those leases with the
 * action as the reason: on a real PostgreSQL, in-process gRPC and libvirt's test driver.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VmInUseActionIntegrationTest {
  private InProcessFarm farm;
  private FarmClient client;

  @BeforeAll
  void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    client = farm.client();
    farm.addHost("sim-leases", 4, 4096);
    farm.awaitConnected(List.of("sim-leases"));
  }

  @AfterAll
  void stop() throws Exception {
    farm.close();
  }

  private List<ServiceAccess> threeLeasesOn(String service) {
    client.defineService(ServiceDefinition.newBuilder().setName(service).addPackages("busybox")
        .setPort(80).setVcpus(1).setMemoryMb(256).build());
    List<ServiceAccess> held = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      held.add(client.requestService(service, service + "-" + i));
    }
    assertEquals(1, held.stream().map(ServiceAccess::vmId).distinct().count(), "one VM");
    assertEquals(3, client.getVm(held.get(0).vmId()).getLeases());
    return held;
  }

  @Test
  void suspendArchiveAndDeleteOfAVmInUseAreRefusedNamingItsLeases() {
    String vmId = threeLeasesOn("in-use").get(0).vmId();
    List<Function<String, Vm>> actions =
        List.of(client::suspendVm, client::archiveVm, client::deleteVm);
    for (Function<String, Vm> action : actions) {
      ConflictException refused = assertThrows(ConflictException.class, () -> action.apply(vmId));
      assertTrue(refused.getMessage().contains("3 live leases")
          && refused.getMessage().contains("--force"), refused.getMessage());
    }
    Vm untouched = client.getVm(vmId);
    assertEquals(VmState.VM_STATE_ACTIVE, untouched.getState());
    assertEquals(VmState.VM_STATE_ACTIVE, untouched.getDesiredState());
    assertEquals(3, untouched.getLeases(), "the holders keep their leases");
  }

  @Test
  void aForcedArchiveEndsTheLeasesAndTheirHoldersHearWhy() {
    List<ServiceAccess> held = threeLeasesOn("forced");
    String vmId = held.get(0).vmId();

    Vm archived = client.archiveVm(vmId, true);

    assertEquals(VmState.VM_STATE_ARCHIVED, archived.getState());
    assertEquals(0, archived.getLeases(), "an archived VM lists no live lease");
    ConflictException ended = assertThrows(ConflictException.class,
        () -> client.renewLease(held.get(1).lease().id()));
    assertTrue(ended.getMessage().contains("ended by the farm")
        && ended.getMessage().contains("archived by an admin"), ended.getMessage());
    List<String> causes = client.listEvents(EventFilter.any().forVm(vmId)).stream()
        .map(Event::getCause).toList();
    assertTrue(causes.contains("admin: archive, forced: 3 live leases ended"), causes.toString());
  }

  @Test
  void aVmNobodyHoldsIsSuspendedWithoutForce() {
    ServiceAccess access = threeLeasesOn("released").get(0);
    for (String key : List.of("released-0", "released-1", "released-2")) {
      client.releaseLease(client.requestService("released", key).lease().id());
    }
    assertEquals(VmState.VM_STATE_SLEEPING, client.suspendVm(access.vmId()).getState());
  }
}
