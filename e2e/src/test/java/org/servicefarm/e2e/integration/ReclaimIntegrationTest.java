package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Event;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.ConflictException;
import org.servicefarm.client.EventFilter;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * A full farm makes room instead of refusing: it archives exactly the idle VMs needed (lowest
 * priority, least recently used), never one in use, says so in an event, and what it archived
 * comes back on request; a higher-priority request preempts a preemptible VM in use, whose lease
 * ends with the reason. Real PostgreSQL, the controller on in-process gRPC, an agent on
 * libvirt's test driver. The tests share one farm; each brings a host of its own and stops its
 * agent when done, so no other host has room for its VMs.
 */
class ReclaimIntegrationTest {
  private static final Duration PATIENCE = Duration.ofSeconds(60);
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

  /** A host of 8 vCPUs and 1024 MB that is the only one taking VMs until the test ends. */
  private static void onlyHost(String hostId) throws Exception {
    farm.addHost(hostId, 8, 1024);
    farm.awaitConnected(List.of(hostId));
  }

  private static ServiceDefinition.Builder definition(String name, long memoryMb) {
    return ServiceDefinition.newBuilder().setName(name).addPackages("busybox").setPort(80)
        .setVcpus(1).setMemoryMb(memoryMb);
  }

  private static VmState state(String vmId) {
    return client.getVm(vmId).getState();
  }

  private static void awaitState(String vmId, VmState wanted) {
    Await.until("VM " + vmId + " " + wanted, PATIENCE, () -> state(vmId) == wanted);
  }

  /** Requests the service and releases its lease at once: an idle VM. */
  private static String idleVm(String service) throws InterruptedException {
    ServiceAccess access = client.requestService(service);
    client.releaseLease(access.lease().id());
    Thread.sleep(20); // distinct last uses, so least recently used is well defined
    return access.vmId();
  }

  @Test
  void aFullFarmArchivesExactlyTheIdleVmsNeededAndTheyComeBackOnRequest() throws Exception {
    onlyHost("full-1");
    try {
      for (String name : List.of("idle-a", "idle-b", "idle-c", "busy")) {
        client.defineService(definition(name, 256).build());
      }
      client.defineService(definition("newcomer", 512).build());
      String a = idleVm("idle-a");
      String b = idleVm("idle-b");
      String c = idleVm("idle-c");
      ServiceAccess busy = client.requestService("busy"); // its lease stays live: in use

      ServiceAccess newcomer = client.requestService("newcomer");

      assertEquals(VmState.VM_STATE_ACTIVE, state(newcomer.vmId()));
      assertEquals("full-1", client.getVm(newcomer.vmId()).getHostId());
      assertEquals(VmState.VM_STATE_ARCHIVED, state(a), "least recently used goes");
      assertEquals(VmState.VM_STATE_ARCHIVED, state(b), "the next least recently used");
      assertEquals(VmState.VM_STATE_ACTIVE, state(c), "two idle VMs were enough");
      assertEquals(VmState.VM_STATE_ACTIVE, state(busy.vmId()), "in use: untouched");
      assertEquals(1, client.getVm(busy.vmId()).getLeases(), "its lease still live");
      List<Event> reclaims = client.listEvents(EventFilter.any().forVm(newcomer.vmId())).stream()
          .filter(e -> e.getKind().equals("RECLAIM")).toList();
      assertEquals(1, reclaims.size(), "one reclaim event: " + reclaims);
      String cause = reclaims.get(0).getCause();
      assertTrue(cause.contains(a) && cause.contains(b) && !cause.contains(c)
          && cause.contains("newcomer"), "names what was archived for whom: " + cause);

      // Requested again, an archived VM comes back: room is made by archiving idle-c, the only
      // idle VM left (busy and newcomer hold leases).
      ServiceAccess back = client.requestService("idle-a");
      assertEquals(a, back.vmId(), "the archived VM itself comes back, not a new one");
      assertEquals(VmState.VM_STATE_ACTIVE, state(a));
      awaitState(c, VmState.VM_STATE_ARCHIVED);
      assertEquals(VmState.VM_STATE_ACTIVE, state(busy.vmId()));
      assertEquals(VmState.VM_STATE_ACTIVE, state(newcomer.vmId()));
    } finally {
      farm.stopAgent("full-1");
    }
  }

  @Test
  void twoRequestsMakingRoomAtOnceArchiveOneIdleVmEachAndNoMore() throws Exception {
    onlyHost("race-1");
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
    try {
      List<String> idle = new java.util.ArrayList<>();
      for (int i = 0; i < 4; i++) {
        client.defineService(definition("race-idle-" + i, 256).build());
        idle.add(idleVm("race-idle-" + i));
      }
      client.defineService(definition("race-new-0", 256).build());
      client.defineService(definition("race-new-1", 256).build());

      List<java.util.concurrent.Future<ServiceAccess>> answers = pool.invokeAll(List.of(
          () -> client.requestService("race-new-0"), () -> client.requestService("race-new-1")));

      for (java.util.concurrent.Future<ServiceAccess> answer : answers) {
        assertEquals(VmState.VM_STATE_ACTIVE, state(answer.get().vmId()));
      }
      List<VmState> states = idle.stream().map(ReclaimIntegrationTest::state).toList();
      assertEquals(List.of(VmState.VM_STATE_ARCHIVED, VmState.VM_STATE_ARCHIVED,
          VmState.VM_STATE_ACTIVE, VmState.VM_STATE_ACTIVE), states,
          "exactly the two least recently used idle VMs went, one for each request");
    } finally {
      pool.shutdownNow();
      farm.stopAgent("race-1");
    }
  }

  @Test
  void aHigherPriorityRequestPreemptsAPreemptibleVmInUseAndItsLeaseEndsWithTheReason()
      throws Exception {
    onlyHost("small-1");
    try {
      client.defineService(definition("batch", 768).setPreemptible(true).build());
      client.defineService(definition("steady", 768).build());
      client.defineService(definition("urgent", 512).setPriority(10).build());
      ServiceAccess batch = client.requestService("batch");

      // Equal priority: a VM in use is never archived for it, preemptible or not.
      FarmException refused = org.junit.jupiter.api.Assertions.assertThrows(FarmException.class,
          () -> client.requestService("steady"));
      assertEquals(io.grpc.Status.Code.RESOURCE_EXHAUSTED, refused.code(), refused.getMessage());
      assertEquals(VmState.VM_STATE_ACTIVE, state(batch.vmId()));

      ServiceAccess urgent = client.requestService("urgent");

      assertEquals(VmState.VM_STATE_ACTIVE, state(urgent.vmId()));
      assertEquals(VmState.VM_STATE_ARCHIVED, state(batch.vmId()));
      ConflictException ended = org.junit.jupiter.api.Assertions.assertThrows(
          ConflictException.class, () -> client.renewLease(batch.lease().id()));
      assertTrue(ended.getMessage().contains("preempted"), ended.getMessage());
    } finally {
      farm.stopAgent("small-1");
    }
  }
}
