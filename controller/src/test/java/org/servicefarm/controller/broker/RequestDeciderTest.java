package org.servicefarm.controller.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.servicefarm.controller.db.OperationRepository.KeyedRequest;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.LeaseRecord;
import org.servicefarm.controller.model.OperationPhase;
import org.servicefarm.controller.model.RequestKey;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/**
 * The locked part of a request, alone: which lock each request decides under, what one
 * transaction records for each branch (the lease, the woken or new VM, the request's operation)
 * and a repeated key returned as a value with nothing written. Against the real database; see
 * {@link RequestFarm}.
 */
class RequestDeciderTest {
  private static final int TTL = 60;
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static RequestFarm farm;

  @BeforeAll
  static void farm() {
    farm = new RequestFarm();
  }

  @AfterAll
  static void close() {
    farm.close();
  }

  private static RequestDecider.Decision decided(RequestDecider.Outcome outcome) {
    return assertInstanceOf(RequestDecider.Outcome.Decided.class, outcome).decision();
  }

  /** The decision and how many group-committed (shared-lock) batches it went through. */
  private record Taken(RequestDecider.Decision decision, int sharedBatches) {}

  private static Taken decide(RequestDecider decider, String service) {
    int before = farm.sharedBatches.get();
    RequestDecider.Decision decision =
        decided(decider.decide(service, farm.unkeyed(), TTL, WAIT, null));
    return new Taken(decision, farm.sharedBatches.get() - before);
  }

  @ParameterizedTest(name = "max_leases_per_vm {0}, {1} running and {2} sleeping VMs:"
      + " shared batches {3} then {4}")
  @CsvSource({
      // One running VM of an uncapped definition: one answer whatever others do, lock shared.
      "0, 1, 0, 1, 1",
      // Several to choose from, or a cap to count leases against: exclusive from then on.
      "0, 2, 0, 1, 0",
      "5, 1, 0, 1, 0",
      // A VM to wake or to build: the shared attempt writes nothing, the exclusive one decides.
      "0, 0, 1, 1, 0",
      "0, 0, 0, 1, 0",
  })
  void eachRequestDecidesUnderTheLockItsDefinitionNeeds(int maxLeasesPerVm, int running,
      int sleeping, int firstBatches, int secondBatches) {
    String service = farm.service(maxLeasesPerVm, 3);
    for (int i = 0; i < running; i++) {
      farm.vm(service, VmState.ACTIVE, DesiredState.ACTIVE);
    }
    for (int i = 0; i < sleeping; i++) {
      farm.vm(service, VmState.SLEEPING, DesiredState.SLEEPING);
    }
    RequestDecider decider = farm.decider();

    Taken first = decide(decider, service);
    Taken second = decide(decider, service);

    assertEquals(List.of(firstBatches, secondBatches),
        List.of(first.sharedBatches(), second.sharedBatches()));
    assertEquals(running > 0, first.decision().answer() != null, "answered at once");
    int vms = Math.max(1, running + sleeping);
    assertEquals(vms, farm.vmsOf(service).size(), "the second request joins the first's VM");
  }

  @ParameterizedTest(name = "a VM {0}, wanted {1}: its request waits in phase {2}")
  @CsvSource({
      "SLEEPING,     SLEEPING, WAKING",
      "ARCHIVED,     ARCHIVED, PLACING",
      "STARTING,     ACTIVE,   BOOTING",
      "PROVISIONING, ACTIVE,   PLACING",
      "NONE,         ACTIVE,   PLACING",
  })
  void aRequestThatWaitsHoldsALeaseCoveringTheWaitAndRecordsItsOperation(String state,
      DesiredState desired, OperationPhase phase) {
    String service = farm.service(0, 1);
    VmRecord existing = state.equals("NONE") ? null
        : farm.vm(service, VmState.valueOf(state), desired);
    RequestKey key = farm.newKey();
    UUID operationId = UUID.randomUUID();

    RequestDecider.Decision decision =
        decided(farm.decider().decide(service, key, TTL, WAIT, operationId));

    assertNull(decision.answer(), "answered once the VM is ACTIVE");
    assertEquals(existing == null, decision.created());
    VmRecord vm = farm.find(decision.vm().id());
    if (existing != null) {
      assertEquals(existing.id(), vm.id());
    }
    assertEquals(DesiredState.ACTIVE, vm.desiredState(), "wanted running");
    LeaseRecord held = farm.lease(decision.lease().id());
    assertEquals(vm.id(), held.vmId());
    assertEquals(WAIT.plusSeconds(TTL), Duration.between(held.createdAt(), held.expiresAt()),
        "the first term covers the wait");
    assertEquals(new KeyedRequest(operationId, service, vm.id(), existing == null),
        farm.requestWithKey(key).orElseThrow());
    assertEquals(phase, farm.operation(operationId).phase());
  }

  @Test
  void aWarmDecisionIsTheAnswerItselfWithItsOperationRecordedReady() {
    String service = farm.service(0, 1);
    VmRecord running = farm.vm(service, VmState.ACTIVE, DesiredState.ACTIVE);
    UUID operationId = UUID.randomUUID();

    RequestDecider.Decision decision =
        decided(farm.decider().decide(service, farm.newKey(), TTL, WAIT, operationId));

    Broker.Granted answer = decision.answer();
    assertNotNull(answer);
    assertEquals(running.id(), answer.vmId());
    assertEquals(RequestFarm.HOST_ADDRESS, answer.host());
    assertEquals(Duration.ofSeconds(TTL),
        Duration.between(answer.lease().createdAt(), answer.lease().expiresAt()));
    var operation = farm.operation(operationId);
    assertEquals(OperationPhase.READY, operation.phase());
    assertEquals(answer.lease().id(), operation.leaseId());
    assertEquals(answer.port(), operation.resultPort());
  }

  @Test
  void aBuildBeyondTheFirstVmSaysItScalesOut() {
    String service = farm.service(1, 3);
    farm.leaseOn(farm.vm(service, VmState.ACTIVE, DesiredState.ACTIVE));

    RequestDecider.Decision decision =
        decided(farm.decider().decide(service, farm.unkeyed(), TTL, WAIT, null));

    assertTrue(decision.created());
    assertEquals(VmState.PROVISIONING, decision.vm().state());
    assertEquals(RequestFarm.HOST, decision.vm().hostId());
    String cause = farm.events.forVm(farm.db, decision.vm().id()).get(0).cause();
    assertTrue(cause.contains("scaling out to VM 2 of max_instances 3"), cause);
  }

  @ParameterizedTest(name = "capped {0}: a repeated key is a Repeat")
  @CsvSource({"0", "1"})
  void aRepeatedKeyIsAValueNamingTheFirstRequestAndNothingIsWritten(int maxLeasesPerVm) {
    String service = farm.service(maxLeasesPerVm, 2);
    farm.vm(service, VmState.SLEEPING, DesiredState.SLEEPING);
    RequestDecider decider = farm.decider();
    RequestKey key = farm.newKey();
    UUID firstOperation = UUID.randomUUID();
    RequestDecider.Decision first =
        decided(decider.decide(service, key, TTL, WAIT, firstOperation));

    RequestDecider.Outcome again = decider.decide(service, key, TTL, WAIT, UUID.randomUUID());

    assertEquals(new RequestDecider.Outcome.Repeat(
        new KeyedRequest(firstOperation, service, first.vm().id(), false)), again);
    assertEquals(1, farm.liveLeases(first.vm().id()), "no second lease");
    assertEquals(firstOperation, farm.requestWithKey(key).orElseThrow().operationId());
  }

  @Test
  void aKeyUsedForAServiceNowGoneIsStillARepeatSoTheCallerHearsWhichServiceItNamed() {
    String service = farm.service(0, 1);
    farm.vm(service, VmState.ACTIVE, DesiredState.ACTIVE);
    RequestDecider decider = farm.decider();
    RequestKey key = farm.newKey();
    UUID operationId = UUID.randomUUID();
    decided(decider.decide(service, key, TTL, WAIT, operationId));

    RequestDecider.Outcome other = decider.decide("no-such-service", key, TTL, WAIT, null);

    KeyedRequest earlier =
        assertInstanceOf(RequestDecider.Outcome.Repeat.class, other).earlier();
    assertEquals(service, earlier.service());
    assertEquals(operationId, earlier.operationId());
  }

  @Test
  void refusalsAreThrownHavingWrittenNothing() {
    String service = farm.service(0, 1);
    VmRecord silent = farm.vm(service, RequestFarm.SILENT_HOST, VmState.UNKNOWN,
        DesiredState.ACTIVE);
    RequestDecider decider = farm.decider();
    RequestKey key = farm.newKey();

    assertThrows(FarmException.Unavailable.class,
        () -> decider.decide(service, key, TTL, WAIT, UUID.randomUUID()));
    FarmException.ServiceNotFound notFound = assertThrows(FarmException.ServiceNotFound.class,
        () -> decider.decide("not-" + service, key, TTL, WAIT, UUID.randomUUID()));

    assertTrue(notFound.getMessage().contains("'not-" + service + "'"), notFound.getMessage());
    assertEquals(0, farm.liveLeases(silent.id()));
    assertTrue(farm.requestWithKey(key).isEmpty(), "no operation under the key");
  }
}
