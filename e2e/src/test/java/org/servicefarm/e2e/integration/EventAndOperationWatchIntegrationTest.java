package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Event;
import org.servicefarm.api.v1.OperationPhase;
import org.servicefarm.api.v1.OperationUpdate;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.EventFilter;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.NotFoundException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.client.ServiceNotFoundException;
import org.servicefarm.client.Subscription;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * Watching the farm: WatchEvents and ListEvents over a VM's whole life, and WatchOperation of
 * requests answered at once (no_wait), on a real PostgreSQL with the controller on in-process
 * gRPC and agents on libvirt's test driver.
 */
class EventAndOperationWatchIntegrationTest {
  private static final Duration PATIENCE = Duration.ofSeconds(30);
  /** The order a cold start passes its phases in; a watcher may join after the first ones. */
  private static final List<OperationPhase> COLD_START = List.of(
      OperationPhase.OPERATION_PHASE_QUEUED, OperationPhase.OPERATION_PHASE_PLACING,
      OperationPhase.OPERATION_PHASE_BUILDING_IMAGE, OperationPhase.OPERATION_PHASE_TRANSFERRING,
      OperationPhase.OPERATION_PHASE_INSTALLING, OperationPhase.OPERATION_PHASE_BOOTING,
      OperationPhase.OPERATION_PHASE_READY);
  private static InProcessFarm farm;
  private static FarmClient client;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    client = farm.client();
    farm.addHost("watch-1", 4, 4096);
    farm.addHost("watch-2", 4, 4096);
    farm.awaitConnected(List.of("watch-1", "watch-2"));
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  private static void define(String name) {
    client.defineService(ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
        .setPort(80).setVcpus(1).setMemoryMb(128).build());
  }

  /** The id of the newest event now: where a replay of what follows starts. */
  private static long newestEventId() {
    long after = 0;
    for (List<Event> page = client.listEvents(EventFilter.any().limit(1000)); !page.isEmpty();
        page = client.listEvents(EventFilter.any().after(after).limit(1000))) {
      after = page.get(page.size() - 1).getId();
    }
    return after;
  }

  private static String transition(Event e) {
    return e.getKind() + " " + e.getFromState() + "->" + e.getToState();
  }

  @Test
  void watchersSeeEveryTransitionOfAVmsLifeInOrderAndOnlyWhatTheirFilterAsks() throws Exception {
    define("life");
    define("bystander");
    long before = newestEventId();
    List<Event> byService = new CopyOnWriteArrayList<>();
    List<Event> byOtherService = new CopyOnWriteArrayList<>();
    try (Subscription lifeWatch = client.watchEvents(EventFilter.any().forService("life"),
            byService::add);
        Subscription otherWatch = client.watchEvents(EventFilter.any().forService("bystander"),
            byOtherService::add)) {
      ServiceAccess a = client.requestService("life");
      client.suspendVm(a.vmId(), true);
      client.requestService("life");
      client.archiveVm(a.vmId(), true);
      client.requestService("life");
      client.deleteVm(a.vmId(), true);
      Await.until("the deletion reaches the watcher", PATIENCE, () -> byService.stream()
          .anyMatch(e -> transition(e).equals("VM_STATE DELETING->DELETED")));

      // A watch that starts later replays the same VM's events from where it asks.
      List<Event> byVm = new CopyOnWriteArrayList<>();
      try (Subscription replay = client.watchEvents(
          EventFilter.any().forVm(a.vmId()).after(before), byVm::add)) {
        Await.until("the replay reaches the deletion", PATIENCE,
            () -> byVm.size() == byService.size() || replay.done().isDone());
      }

      List<EventRepository.Event> stored =
          new EventRepository().forVm(farm.db(), UUID.fromString(a.vmId()));
      List<Long> storedIds = stored.stream().map(EventRepository.Event::id).toList();
      assertEquals(storedIds, byService.stream().map(Event::getId).toList(),
          "the live watch saw every event of the VM, in id order, once");
      assertEquals(storedIds, byVm.stream().map(Event::getId).toList(),
          "the replay saw the same events");
      assertEquals(List.of("->PROVISIONING", "PROVISIONING->STARTING", "STARTING->ACTIVE",
          "ACTIVE->SLEEPING", "SLEEPING->ACTIVE", "ACTIVE->ARCHIVING", "ARCHIVING->ARCHIVED",
          "ARCHIVED->RESTORING", "RESTORING->STARTING", "STARTING->ACTIVE", "ACTIVE->DELETING",
          "DELETING->DELETED"), byService.stream().filter(e -> e.getKind().equals("VM_STATE"))
              .map(e -> e.getFromState() + "->" + e.getToState()).toList());
      assertTrue(byService.stream().allMatch(e -> e.getVmId().equals(a.vmId())
          && e.getService().equals("life")), "only the VM's events, each naming its service");
      assertTrue(byOtherService.isEmpty(), "a watch of another service saw: " + byOtherService);
      assertFalse(lifeWatch.done().isDone() || otherWatch.done().isDone(),
          "watches go on until cancelled");
    }
  }

  @Test
  void listEventsPagesWithAfterId() {
    define("paged");
    ServiceAccess a = client.requestService("paged");
    client.suspendVm(a.vmId(), true);
    EventFilter vm = EventFilter.any().forVm(a.vmId());
    List<Event> all = client.listEvents(vm);
    assertTrue(all.size() >= 5, "events: " + all);
    List<Event> paged = new ArrayList<>();
    long after = 0;
    for (List<Event> page = client.listEvents(vm.limit(2)); !page.isEmpty();
        page = client.listEvents(vm.after(after).limit(2))) {
      assertTrue(page.size() <= 2);
      paged.addAll(page);
      after = page.get(page.size() - 1).getId();
    }
    assertEquals(all, paged);
  }

  @Test
  void aWatcherOfANoWaitRequestSeesItsPhasesInOrderEndingReadyWithTheAccess() {
    define("ops");
    RequestServiceResponse started = client.requestServiceNoWait("ops", "ops-1");
    assertTrue(started.getCreated());
    assertFalse(started.getOperationId().isEmpty());
    assertFalse(started.hasAccess(), "a no_wait answer has no access yet");

    List<OperationUpdate> updates = new ArrayList<>();
    OperationUpdate last = client.watchOperation(started.getOperationId(), updates::add);

    assertEquals(OperationPhase.OPERATION_PHASE_READY, last.getPhase());
    assertTrue(last.getDone());
    assertEquals(100, last.getProgressPercent());
    assertEquals(started.getVmId(), last.getResult().getVmId());
    assertEquals("ops", last.getResult().getAccess().getService());
    assertTrue(last.getResult().getAccess().getPort() > 0);
    assertTrue(last.getResult().hasLease(), "the answer carries its lease");
    List<Integer> order = updates.stream().map(u -> COLD_START.indexOf(u.getPhase())).toList();
    assertFalse(order.contains(-1), "phases off the cold-start path: " + updates);
    for (int i = 1; i < updates.size(); i++) {
      assertTrue(order.get(i - 1) <= order.get(i), "phases out of order: " + updates);
      assertTrue(updates.get(i - 1).getProgressPercent() <= updates.get(i).getProgressPercent(),
          "progress went back: " + updates);
    }
    assertEquals(client.getVm(started.getVmId()).getAccess(0).getPort(),
        last.getResult().getAccess().getPort());

    // A watcher that joins now gets where the operation stands, which is done.
    List<OperationUpdate> late = new ArrayList<>();
    client.watchOperation(started.getOperationId(), late::add);
    assertEquals(List.of(last.toBuilder().clearMessage().build()),
        late.stream().map(u -> u.toBuilder().clearMessage().build()).toList());

    // The same key again answers the same operation.
    assertEquals(started.getOperationId(),
        client.requestServiceNoWait("ops", "ops-1").getOperationId());
  }

  @Test
  void aNoWaitRequestForASleepingVmIsFollowedThroughWaking() {
    define("nap");
    ServiceAccess a = client.requestService("nap");
    client.suspendVm(a.vmId(), true);
    RequestServiceResponse started = client.requestServiceNoWait("nap", UUID.randomUUID().toString());
    assertEquals(a.vmId(), started.getVmId());
    List<OperationUpdate> updates = new ArrayList<>();
    OperationUpdate last = client.watchOperation(started.getOperationId(), updates::add);
    assertEquals(OperationPhase.OPERATION_PHASE_READY, last.getPhase());
    assertTrue(updates.stream().allMatch(u -> u.getPhase() == OperationPhase.OPERATION_PHASE_WAKING
        || u.getPhase() == OperationPhase.OPERATION_PHASE_READY), "updates: " + updates);
    assertEquals(a.endpoint(), last.getResult().getAccess().getHost() + ":"
        + last.getResult().getAccess().getPort());
  }

  @Test
  void requestWithProgressAnswersLikeAWaitingRequest() {
    define("shown");
    List<OperationUpdate> updates = new ArrayList<>();
    ServiceAccess access = client.requestServiceWithProgress("shown", "shown-1", updates::add);
    assertEquals(access.vmId(), client.getVm(access.vmId()).getId());
    assertTrue(access.port() > 0);
    assertTrue(updates.get(updates.size() - 1).getDone());
    assertThrows(ServiceNotFoundException.class,
        () -> client.requestServiceWithProgress("never-defined", "k-2", updates::add));
  }

  @Test
  void unknownOperationsAndServicesAreRefusedNamingThem() {
    String unknown = UUID.randomUUID().toString();
    NotFoundException e = assertThrows(NotFoundException.class,
        () -> client.watchOperation(unknown, u -> { }));
    assertTrue(e.getMessage().contains(unknown), e.getMessage());
    assertThrows(ServiceNotFoundException.class,
        () -> client.requestServiceNoWait("never-defined", "k-1"));
  }
}
