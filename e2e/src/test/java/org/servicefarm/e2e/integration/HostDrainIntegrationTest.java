package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.servicefarm.api.v1.Event;
import org.servicefarm.api.v1.HostStatus;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.EventFilter;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.NotFoundException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.client.VmFilter;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * Draining hosts on a real PostgreSQL with the controller on in-process gRPC and agents on
 * libvirt's test driver: VMs move off with their ids, none is lost, and uncordoned hosts take
 * VMs again.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HostDrainIntegrationTest {
  private static final Duration PATIENCE = Duration.ofSeconds(60);
  private static InProcessFarm farm;
  private static FarmClient client;
  private static ServiceAccess first;
  private static ServiceAccess second;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    client = farm.client();
    farm.addHost("drain-1", 4, 2048);
    farm.addHost("drain-2", 4, 2048);
    farm.awaitConnected(List.of("drain-1", "drain-2"));
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  private static void define(String name) {
    client.defineService(ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
        .setPort(80).setVcpus(1).setMemoryMb(256).build());
  }

  private static List<Vm> vmsOn(String hostId) {
    return client.listVms(VmFilter.any().onHost(hostId));
  }

  private static boolean activeOn(Vm vm, String hostId) {
    Vm now = client.getVm(vm.getId());
    return now.getState() == VmState.VM_STATE_ACTIVE && now.getHostId().equals(hostId);
  }

  @Test
  @Order(1)
  void drainingAHostMovesItsVmsElsewhereKeepingTheirIds() {
    // drain-2 takes nothing while cordoned, so both VMs land on drain-1.
    assertEquals(HostStatus.HOST_STATUS_DRAINING, client.drainHost("drain-2").getStatus());
    define("mover-a");
    define("mover-b");
    first = client.requestService("mover-a");
    second = client.requestService("mover-b");
    assertEquals(2, vmsOn("drain-1").size());
    assertEquals(HostStatus.HOST_STATUS_UP, client.uncordonHost("drain-2").getStatus());

    assertEquals(HostStatus.HOST_STATUS_DRAINING, client.drainHost("drain-1").getStatus());
    Await.until("drain-1 empty and both VMs ACTIVE on drain-2", PATIENCE, () ->
        vmsOn("drain-1").isEmpty()
            && activeOn(client.getVm(first.vmId()), "drain-2")
            && activeOn(client.getVm(second.vmId()), "drain-2"));
    ServiceAccess again = client.requestService("mover-a");
    assertEquals(first.vmId(), again.vmId(), "the same VM answers, not a new one");

    List<Event> hostEvents = client.listEvents(EventFilter.any().onHost("drain-1"));
    assertTrue(hostEvents.stream().anyMatch(e -> e.getKind().equals("HOST_STATUS")
        && e.getToState().equals("DRAINING")), "events: " + hostEvents);
  }

  @Test
  @Order(2)
  void anUncordonedHostTakesVmsAgain() {
    assertEquals(HostStatus.HOST_STATUS_UP, client.uncordonHost("drain-1").getStatus());
    client.drainHost("drain-2");
    Await.until("both VMs back on drain-1", PATIENCE, () ->
        activeOn(client.getVm(first.vmId()), "drain-1")
            && activeOn(client.getVm(second.vmId()), "drain-1"));
    client.uncordonHost("drain-2");
  }

  @Test
  @Order(3)
  void aVmNoOtherHostCanTakeStaysArchivedAndTheDrainSaysSo() {
    client.drainHost("drain-2");
    client.drainHost("drain-1");
    Await.until("both VMs ARCHIVED", PATIENCE, () ->
        client.getVm(first.vmId()).getState() == VmState.VM_STATE_ARCHIVED
            && client.getVm(second.vmId()).getState() == VmState.VM_STATE_ARCHIVED);
    List<Event> events = client.listEvents(EventFilter.any().forVm(first.vmId()).limit(1000));
    assertTrue(events.stream().anyMatch(e -> e.getCause().contains("no other host can take")
        && e.getCause().contains("stays ARCHIVED")), "events: " + events);

    client.uncordonHost("drain-1");
    client.uncordonHost("drain-2");
    assertEquals(first.vmId(), client.requestService("mover-a").vmId(),
        "a request restores the archived VM");
  }

  @Test
  @Order(4)
  void drainingAnUnknownHostIsNotFoundNamingIt() {
    NotFoundException e = assertThrows(NotFoundException.class,
        () -> client.drainHost("no-such-host"));
    assertTrue(e.getMessage().contains("no-such-host"), e.getMessage());
  }
}
