package org.servicefarm.controller.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.servicefarm.controller.broker.PlayedReconciler.Step;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.OperationPhase;
import org.servicefarm.controller.model.RequestKey;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/**
 * The request method's branches as a client sees them: which VM answers, whether one is woken
 * or built (the reconciler's kicks, played by {@link PlayedReconciler}), the lease held and the
 * failure named. Against the real database; see {@link RequestFarm}.
 */
class BrokerTest {
  private static RequestFarm farm;

  @BeforeAll
  static void farm() {
    farm = new RequestFarm();
  }

  @AfterAll
  static void close() {
    farm.close();
  }

  private static Broker.Granted answer(CompletableFuture<Broker.Granted> future)
      throws Exception {
    return future.get(10, TimeUnit.SECONDS);
  }

  /** The failure a request's answer ended with. */
  private static Throwable failure(CompletableFuture<Broker.Granted> future) {
    ExecutionException e = assertThrows(ExecutionException.class,
        () -> future.get(10, TimeUnit.SECONDS));
    return e.getCause();
  }

  @ParameterizedTest(name = "a VM {0}, wanted {1}: kicked {2} times, created {3}")
  @CsvSource({
      // The warm path: answered at once from the running VM, nothing for the reconciler.
      "ACTIVE,       ACTIVE,   0, false",
      // Woken where it sleeps, restored from its archive, joined on its way up.
      "SLEEPING,     SLEEPING, 1, false",
      "ARCHIVED,     ARCHIVED, 1, false",
      "ARCHIVING,    ARCHIVED, 1, false",
      "STARTING,     ACTIVE,   1, false",
      "PROVISIONING, ACTIVE,   1, false",
      // No VM at all: one is built on the host.
      "NONE,         ACTIVE,   1, true",
  })
  void aRequestIsAnsweredWithALeaseOnTheVmItsDefinitionHasOrBuilds(String state,
      DesiredState desired, int kicks, boolean created) throws Exception {
    String service = farm.service(0, 1);
    VmRecord existing = state.equals("NONE") ? null
        : farm.vm(service, VmState.valueOf(state), desired);
    PlayedReconciler reconciler = new PlayedReconciler(farm, Step.SERVES);

    Broker.Granted granted = answer(farm.broker(reconciler)
        .request(service, farm.unkeyed(), RequestFarm.WAIT));

    VmRecord vm = farm.find(granted.vmId());
    if (existing != null) {
      assertEquals(existing.id(), vm.id(), "the definition's VM answers");
    }
    assertEquals(1, farm.vmsOf(service).size(), "no VM beside the one answering");
    assertEquals(created, granted.created());
    assertEquals(kicks, reconciler.kicked().size(), "kicks: " + reconciler.kicked());
    assertEquals(RequestFarm.HOST, vm.hostId());
    assertEquals(VmState.ACTIVE, granted.state());
    assertEquals(DesiredState.ACTIVE, vm.desiredState());
    assertEquals(RequestFarm.HOST_ADDRESS, granted.host());
    assertNotNull(granted.lease(), "the answer carries a lease");
    assertEquals(vm.id(), granted.lease().vmId());
    assertEquals(1, farm.liveLeases(vm.id()));
  }

  @Test
  void aCappedDefinitionsFullVmIsPassedOverForTheNextWithRoom() throws Exception {
    String service = farm.service(1, 3);
    VmRecord full = farm.vm(service, VmState.ACTIVE, DesiredState.ACTIVE);
    VmRecord free = farm.vm(service, VmState.ACTIVE, DesiredState.ACTIVE);
    farm.leaseOn(full);
    PlayedReconciler reconciler = new PlayedReconciler(farm, Step.SERVES);

    Broker.Granted granted = answer(farm.broker(reconciler)
        .request(service, farm.unkeyed(), RequestFarm.WAIT));

    assertEquals(free.id(), granted.vmId());
    assertEquals(List.of(), reconciler.kicked(), "answered warm");
    assertEquals(1, farm.liveLeases(full.id()), "max_leases_per_vm 1 still holds");
  }

  @ParameterizedTest(name = "max_instances {0} with {1} full VMs: builds {2}")
  @CsvSource({
      "2, 1, true",
      "2, 2, false",
      "1, 1, false",
      "3, 2, true",
  })
  void fullVmsScaleOutOnlyUpToMaxInstances(int maxInstances, int fullVms, boolean builds)
      throws Exception {
    String service = farm.service(1, maxInstances);
    for (int i = 0; i < fullVms; i++) {
      farm.leaseOn(farm.vm(service, VmState.ACTIVE, DesiredState.ACTIVE));
    }
    PlayedReconciler reconciler = new PlayedReconciler(farm, Step.SERVES);

    Broker.Granted granted = answer(farm.broker(reconciler)
        .request(service, farm.unkeyed(), RequestFarm.WAIT));

    assertEquals(builds, granted.created());
    assertEquals(builds ? fullVms + 1 : fullVms, farm.vmsOf(service).size());
    // At max_instances every VM is full: the load is shared rather than refused.
    assertEquals(builds ? 1 : 2, farm.liveLeases(granted.vmId()));
  }

  @Test
  void theOnlyVmOnAHostNotReportingIsUnavailableNamingTheHost() {
    String service = farm.service(0, 1);
    VmRecord silent = farm.vm(service, RequestFarm.SILENT_HOST, VmState.UNKNOWN,
        DesiredState.ACTIVE);
    PlayedReconciler reconciler = new PlayedReconciler(farm, Step.SERVES);

    FarmException.Unavailable refused = assertThrows(FarmException.Unavailable.class,
        () -> farm.broker(reconciler).request(service, farm.unkeyed(), RequestFarm.WAIT));

    assertTrue(refused.getMessage().contains("host " + RequestFarm.SILENT_HOST),
        refused.getMessage());
    assertTrue(refused.getMessage().contains(service), refused.getMessage());
    assertEquals(List.of(silent.id()), farm.vmsOf(service).stream().map(VmRecord::id).toList(),
        "nothing built");
    assertEquals(0, farm.liveLeases(silent.id()));
    assertEquals(List.of(), reconciler.kicked());
  }

  @Test
  void anUnknownServiceIsNotFoundNamingIt() {
    FarmException.ServiceNotFound refused = assertThrows(FarmException.ServiceNotFound.class,
        () -> farm.broker(new PlayedReconciler(farm, Step.SERVES))
            .request("no-such-service", farm.newKey(), RequestFarm.WAIT));
    assertTrue(refused.getMessage().contains("'no-such-service'"), refused.getMessage());
  }

  @Test
  void aRepeatedKeyAnswersTheFirstRequestsVmAndLeaseWritingNothing() throws Exception {
    String service = farm.service(0, 2);
    farm.vm(service, VmState.SLEEPING, DesiredState.SLEEPING);
    PlayedReconciler reconciler = new PlayedReconciler(farm, Step.SERVES);
    Broker broker = farm.broker(reconciler);
    RequestKey key = farm.newKey();

    Broker.Granted first = answer(broker.request(service, key, RequestFarm.WAIT));
    UUID operation = farm.requestWithKey(key).orElseThrow().operationId();
    Broker.Granted again = answer(broker.request(service, key, RequestFarm.WAIT));

    assertEquals(first.vmId(), again.vmId());
    assertEquals(first.lease().id(), again.lease().id(), "the first request's lease");
    assertEquals(1, farm.liveLeases(first.vmId()), "no second lease");
    assertEquals(1, farm.vmsOf(service).size());
    assertEquals(operation, farm.requestWithKey(key).orElseThrow().operationId());
    assertEquals(OperationPhase.READY, farm.operation(operation).phase());
  }

  @Test
  void theSameKeyForAnotherServiceIsAConflictNamingBoth() throws Exception {
    String first = farm.service(0, 1);
    String second = farm.service(0, 1);
    farm.vm(first, VmState.ACTIVE, DesiredState.ACTIVE);
    farm.vm(second, VmState.ACTIVE, DesiredState.ACTIVE);
    Broker broker = farm.broker(new PlayedReconciler(farm, Step.SERVES));
    RequestKey key = farm.newKey();
    answer(broker.request(first, key, RequestFarm.WAIT));

    FarmException.Conflict refused = assertThrows(FarmException.Conflict.class,
        () -> broker.request(second, key, RequestFarm.WAIT));

    assertTrue(refused.getMessage().contains("'" + first + "'")
        && refused.getMessage().contains("'" + second + "'"), refused.getMessage());
    assertEquals(0, farm.liveLeases(farm.vmsOf(second).get(0).id()));
  }

  @Test
  void aRequestThatMustBuildLeavesTheSharedLockAndTheNextDecidesExclusivelyUntilOneRunsWarm()
      throws Exception {
    String service = farm.service(0, 1);
    Broker broker = farm.broker(new PlayedReconciler(farm, Step.SERVES));

    int before = farm.sharedBatches.get();
    Broker.Granted built = answer(broker.request(service, farm.unkeyed(), RequestFarm.WAIT));
    assertTrue(built.created());
    assertEquals(1, farm.sharedBatches.get() - before, "tried shared first, wrote nothing there");

    before = farm.sharedBatches.get();
    Broker.Granted warm = answer(broker.request(service, farm.unkeyed(), RequestFarm.WAIT));
    assertEquals(built.vmId(), warm.vmId());
    assertEquals(0, farm.sharedBatches.get() - before, "decided under the exclusive lock at once");

    // That request found one running VM of an uncapped definition: the shared lock suffices again.
    before = farm.sharedBatches.get();
    assertEquals(built.vmId(),
        answer(broker.request(service, farm.unkeyed(), RequestFarm.WAIT)).vmId());
    assertEquals(1, farm.sharedBatches.get() - before, "decided in a shared batch again");
    assertEquals(3, farm.liveLeases(built.vmId()));
  }

  @ParameterizedTest(name = "the step {0}: the request fails {1}")
  @CsvSource({
      "FAILS,  Unavailable, 5000",
      "STALLS, TimedOut,    100",
  })
  void aFailedWaitReleasesTheHeldLeaseAndRecordsTheOperationFailed(Step step, String failure,
      long waitMillis) {
    String service = farm.service(0, 1);
    VmRecord sleeping = farm.vm(service, VmState.SLEEPING, DesiredState.SLEEPING);
    PlayedReconciler reconciler = new PlayedReconciler(farm, step);
    RequestKey key = farm.newKey();

    Throwable cause = failure(farm.broker(reconciler)
        .request(service, key, Duration.ofMillis(waitMillis)));

    assertEquals(failure, cause.getClass().getSimpleName(), String.valueOf(cause));
    assertTrue(cause.getMessage().contains(sleeping.id().toString()), cause.getMessage());
    assertEquals(List.of(sleeping.id()), reconciler.kicked());
    assertEquals(0, farm.liveLeases(sleeping.id()), "the held lease is released");
    var operation = farm.operation(farm.requestWithKey(key).orElseThrow().operationId());
    assertEquals(OperationPhase.FAILED, operation.phase());
    assertTrue(operation.error().contains(sleeping.id().toString()), operation.error());
  }

  @Test
  void requestNoWaitAnswersTheOperationAndVmAtOnceAndTheOperationFinishesWithTheVm() {
    String service = farm.service(0, 1);
    VmRecord sleeping = farm.vm(service, VmState.SLEEPING, DesiredState.SLEEPING);
    PlayedReconciler reconciler = new PlayedReconciler(farm, Step.STALLS);
    Broker broker = farm.broker(reconciler);

    Broker.Started started = broker.requestNoWait(service, farm.newKey(), 60, RequestFarm.WAIT);

    assertEquals(sleeping.id(), started.vmId());
    assertEquals(VmState.SLEEPING, started.state());
    assertFalse(started.created());
    assertEquals(List.of(sleeping.id()), reconciler.kicked());
    var operation = farm.operation(started.operationId());
    assertEquals(OperationPhase.WAKING, operation.phase());
    assertEquals(sleeping.id(), operation.vmId());
    assertEquals(DesiredState.ACTIVE, farm.find(sleeping.id()).desiredState());

    // The host answers later: the step's commit finishes the operation with the access.
    new PlayedReconciler(farm, Step.SERVES).kick(sleeping.id());
    operation = farm.operation(started.operationId());
    assertEquals(OperationPhase.READY, operation.phase());
    assertEquals(RequestFarm.HOST_ADDRESS, operation.resultHost());
    assertEquals(1, farm.liveLeases(sleeping.id()), "the held lease, its term started");
  }

  @Test
  void requestNoWaitOnAWarmVmRecordsTheOperationReadyWithItsLease() {
    String service = farm.service(0, 1);
    VmRecord running = farm.vm(service, VmState.ACTIVE, DesiredState.ACTIVE);
    PlayedReconciler reconciler = new PlayedReconciler(farm, Step.SERVES);
    RequestKey key = farm.newKey();

    Broker.Started started = farm.broker(reconciler).requestNoWait(service, key, 60,
        RequestFarm.WAIT);
    Broker.Started again = farm.broker(reconciler).requestNoWait(service, key, 60,
        RequestFarm.WAIT);

    assertEquals(new Broker.Started(running.id(), VmState.ACTIVE, false,
        started.operationId()), started);
    assertEquals(started.operationId(), again.operationId(), "the repeat follows the first");
    var operation = farm.operation(started.operationId());
    assertEquals(OperationPhase.READY, operation.phase());
    assertEquals(RequestFarm.HOST_ADDRESS, operation.resultHost());
    assertNotNull(operation.leaseId());
    assertEquals(1, farm.liveLeases(running.id()));
    assertEquals(List.of(running.id()), reconciler.kicked(),
        "the warm answer kicks nothing; the repeat kicks its VM in case it was put away");
  }
}
