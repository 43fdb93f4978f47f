package org.servicefarm.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Access;
import org.servicefarm.api.v1.RequestServiceRequest;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;

class FarmClientTest {

  private static final RequestServiceResponse REDIS = RequestServiceResponse.newBuilder()
      .setVmId("vm-7")
      .setAccess(Access.newBuilder().setService("redis").setHost("10.0.0.5").setPort(40123))
      .setState(VmState.VM_STATE_ACTIVE)
      .setCreated(true)
      .build();

  private FakeFarmServer farm;
  private FarmClient client;

  @BeforeEach
  void startFarm() throws Exception {
    farm = new FakeFarmServer();
    farm.broker.answer("redis", REDIS);
    client = farm.client(fastRetries().build());
  }

  @AfterEach
  void stopFarm() throws Exception {
    client.close();
    farm.close();
  }

  /** Real backoff would make each retry test wait a second for nothing. */
  private static FarmClientOptions.Builder fastRetries() {
    return FarmClientOptions.builder()
        .initialBackoff(Duration.ofMillis(1))
        .maxBackoff(Duration.ofMillis(5));
  }

  @Test
  void requestServiceReturnsTheAccessTheServerAnswered() {
    ServiceAccess access = client.requestService("redis");

    assertEquals(new ServiceAccess("vm-7", "redis", "10.0.0.5", 40123,
        VmState.VM_STATE_ACTIVE, true), access);
    assertEquals("10.0.0.5:40123", access.endpoint());
  }

  @Test
  void requestServiceSendsTheCallersIdempotencyKey() {
    client.requestService("redis", "deploy-42");

    assertEquals("deploy-42", farm.broker.requests().get(0).getIdempotencyKey());
  }

  @Test
  void unknownServiceRaisesServiceNotFoundNamingIt() {
    ServiceNotFoundException error =
        assertThrows(ServiceNotFoundException.class, () -> client.requestService("memcached"));

    assertEquals("memcached", error.serviceName());
    assertEquals(Status.Code.NOT_FOUND, error.code());
    assertTrue(error.getMessage().contains("memcached"), error.getMessage());
  }

  @Test
  void unknownVmRaisesPlainNotFound() {
    NotFoundException error = assertThrows(NotFoundException.class, () -> client.getVm("vm-x"));

    assertFalse(error instanceof ServiceNotFoundException);
    assertEquals("no VM vm-x", error.serverMessage());
  }

  @Test
  void exhaustedCapacityRaisesNoCapacity() {
    farm.broker.refuse("bigdb", Status.RESOURCE_EXHAUSTED.withDescription("no host has 64 GiB"));

    NoCapacityException error =
        assertThrows(NoCapacityException.class, () -> client.requestService("bigdb"));

    assertEquals("no host has 64 GiB", error.getMessage());
  }

  @Test
  void aRefusalInTheFarmsCurrentStateRaisesConflictWithTheFarmsWords() {
    farm.broker.refuse("redis", Status.FAILED_PRECONDITION.withDescription(
        "cannot suspend VM vm-7: it is ARCHIVED"));

    ConflictException error =
        assertThrows(ConflictException.class, () -> client.requestService("redis"));

    assertEquals(Status.Code.FAILED_PRECONDITION, error.code());
    assertEquals("cannot suspend VM vm-7: it is ARCHIVED", error.getMessage());
  }

  @Test
  void unauthenticatedRaisesPermissionDenied() {
    farm.broker.refuse("redis", Status.UNAUTHENTICATED.withDescription("token expired"));

    PermissionDeniedException error =
        assertThrows(PermissionDeniedException.class, () -> client.requestService("redis"));

    assertEquals(Status.Code.UNAUTHENTICATED, error.code());
  }

  @Test
  void invalidArgumentRaisesInvalidRequest() {
    farm.admin.faults.failNext(Status.INVALID_ARGUMENT.withDescription("port must be 1-65535"), 1);

    InvalidRequestException error = assertThrows(InvalidRequestException.class,
        () -> client.defineService(ServiceDefinition.newBuilder().setName("x").build()));

    assertEquals("port must be 1-65535", error.getMessage());
  }

  @Test
  void unavailableIsRetriedUntilTheFarmAnswers() {
    farm.broker.faults.failNext(Status.UNAVAILABLE, 2);

    ServiceAccess access = client.requestService("redis");

    assertEquals("vm-7", access.vmId());
    assertEquals(3, farm.broker.faults.calls());
  }

  @Test
  void aStreamTheConnectionResetIsRetriedButTheFarmsOwnInternalIsNot() {
    farm.broker.faults.failNext(Status.INTERNAL.withDescription(
        "RST_STREAM closed stream. HTTP/2 error code: INTERNAL_ERROR"), 1);
    assertEquals("vm-7", client.requestService("redis").vmId());
    assertEquals(2, farm.broker.faults.calls());

    farm.broker.faults.failNext(Status.INTERNAL.withDescription("the farm failed"), 1);
    assertThrows(FarmException.class, () -> client.requestService("redis"));
    assertEquals(3, farm.broker.faults.calls());
  }

  @Test
  void aRequestTheFarmStoppedWaitingOnIsAskedAgainWhileTheCallersDeadlineLasts() {
    // The controller waits at most its --request-wait, then says it is still at it.
    farm.broker.faults.failNext(Status.DEADLINE_EXCEEDED.withDescription(
        "VM vm-7 did not reach ACTIVE within 120 s; it is PROVISIONING and the farm keeps going"),
        4);

    assertEquals("vm-7", client.requestService("redis").vmId());
    assertEquals(5, farm.broker.faults.calls(), "asked again past maxAttempts (3): the deadline"
        + " bounds these, not the attempt count");
    List<String> keys = farm.broker.requests().stream()
        .map(RequestServiceRequest::getIdempotencyKey).distinct().toList();
    assertEquals(1, keys.size(), "every ask is the same request: " + keys);
  }

  @Test
  void aRequestStillUnansweredAtTheCallersDeadlineRaisesFarmTimeout() throws Exception {
    try (FarmClient patient = farm.client(fastRetries()
        .requestServiceDeadline(Duration.ofMillis(1500)).build())) {
      farm.broker.faults.failNext(Status.DEADLINE_EXCEEDED.withDescription("still building"),
          1_000_000);
      long started = System.nanoTime();

      assertThrows(FarmTimeoutException.class, () -> patient.requestService("redis"));

      long tookMillis = (System.nanoTime() - started) / 1_000_000;
      assertTrue(tookMillis < 10_000, "gave up at its deadline, not later: " + tookMillis + " ms");
      assertTrue(farm.broker.faults.calls() > 1, "asked again while time was left");
    }
  }

  @Test
  void unavailableIsRetriedUpToMaxAttemptsThenRaisesFarmUnavailable() {
    farm.broker.faults.failNext(Status.UNAVAILABLE.withDescription("controller restarting"), 10);

    FarmUnavailableException error =
        assertThrows(FarmUnavailableException.class, () -> client.requestService("redis"));

    assertEquals(FarmClientOptions.DEFAULT_MAX_ATTEMPTS, farm.broker.faults.calls());
    assertTrue(error.getMessage().contains("3 attempts"), error.getMessage());
    assertTrue(error.getMessage().contains("controller restarting"), error.getMessage());
  }

  @Test
  void retriesOfOneRequestReuseOneGeneratedIdempotencyKey() {
    farm.broker.faults.failNext(Status.UNAVAILABLE, 2);

    client.requestService("redis");

    List<String> keys = farm.broker.requests().stream()
        .map(RequestServiceRequest::getIdempotencyKey).distinct().toList();
    assertEquals(1, keys.size(), "keys sent: " + keys);
    assertFalse(keys.get(0).isBlank());
  }

  @Test
  void separateRequestsWithoutKeyGetDifferentKeys() {
    client.requestService("redis");
    client.requestService("redis");

    List<RequestServiceRequest> requests = farm.broker.requests();
    assertFalse(requests.get(0).getIdempotencyKey().equals(requests.get(1).getIdempotencyKey()));
  }

  @Test
  void listVmsIsRetriedOnUnavailableToo() {
    farm.admin.vms.add(vm("vm-1", VmState.VM_STATE_ACTIVE, "host-a"));
    farm.admin.faults.failNext(Status.UNAVAILABLE, 1);

    assertEquals(1, client.listVms().size());
  }

  @Test
  void defineServiceIsNotRetriedBecauseItIsNotIdempotent() {
    farm.admin.faults.failNext(Status.UNAVAILABLE, 1);

    assertThrows(FarmUnavailableException.class,
        () -> client.defineService(ServiceDefinition.newBuilder().setName("redis").build()));
    assertEquals(1, farm.admin.faults.calls());
  }

  @Test
  void maxAttemptsOfOneMeansNoRetry() throws Exception {
    try (FarmClient once = farm.client(fastRetries().maxAttempts(1).build())) {
      farm.broker.faults.failNext(Status.UNAVAILABLE, 1);

      assertThrows(FarmUnavailableException.class, () -> once.requestService("redis"));
      assertEquals(1, farm.broker.faults.calls());
    }
  }

  @Test
  void bearerTokenReachesTheServer() throws Exception {
    try (FarmClient withToken = farm.client(fastRetries().bearerToken("s3cret").build())) {
      withToken.requestService("redis");
      withToken.listHosts();
    }

    assertEquals(List.of("Bearer s3cret", "Bearer s3cret"), farm.authorizations());
  }

  @Test
  void withoutTokenNoAuthorizationIsSent() {
    client.listHosts();

    assertEquals(List.of("<none>"), farm.authorizations());
  }

  @Test
  void listVmsWalksAllPages() {
    for (int i = 1; i <= 5; i++) {
      farm.admin.vms.add(vm("vm-" + i, VmState.VM_STATE_ACTIVE, "host-a"));
    }

    List<Vm> vms = client.listVms();

    assertEquals(List.of("vm-1", "vm-2", "vm-3", "vm-4", "vm-5"),
        vms.stream().map(Vm::getId).toList());
    assertEquals(3, farm.admin.listVmsRequests.size(), "pages of 2: 2 + 2 + 1");
  }

  @Test
  void listVmsSendsTheFilterWithEveryPage() {
    for (int i = 1; i <= 3; i++) {
      farm.admin.vms.add(vm("sleeper-" + i, VmState.VM_STATE_SLEEPING, "host-b"));
    }
    farm.admin.vms.add(vm("awake", VmState.VM_STATE_ACTIVE, "host-b"));

    List<Vm> vms = client.listVms(VmFilter.any().withState(VmState.VM_STATE_SLEEPING)
        .onHost("host-b"));

    assertEquals(3, vms.size());
    assertTrue(farm.admin.listVmsRequests.stream().allMatch(
        request -> request.getState() == VmState.VM_STATE_SLEEPING
            && request.getHostId().equals("host-b")));
  }

  @Test
  void suspendVmAnswersTheVmWithItsNewDesiredState() {
    farm.admin.vms.add(vm("vm-1", VmState.VM_STATE_ACTIVE, "host-a"));

    Vm vm = client.suspendVm("vm-1");

    assertEquals(VmState.VM_STATE_SLEEPING, vm.getDesiredState());
  }

  @Test
  void requestServiceAsyncCompletesWithTheAccess() throws Exception {
    ServiceAccess access = client.requestServiceAsync("redis").get(5, TimeUnit.SECONDS);

    assertEquals("10.0.0.5:40123", access.endpoint());
  }

  @Test
  void requestServiceAsyncRetriesUnavailableThenCompletes() throws Exception {
    farm.broker.faults.failNext(Status.UNAVAILABLE, 2);

    ServiceAccess access = client.requestServiceAsync("redis").get(5, TimeUnit.SECONDS);

    assertEquals("vm-7", access.vmId());
    assertEquals(3, farm.broker.faults.calls());
  }

  @Test
  void requestServiceAsyncFailsWithTheTypedException() {
    CompletionException error = assertThrows(CompletionException.class,
        () -> client.requestServiceAsync("memcached").join());

    ServiceNotFoundException notFound =
        assertInstanceOf(ServiceNotFoundException.class, error.getCause());
    assertEquals("memcached", notFound.serviceName());
  }

  @Test
  void farmThatNeverAnswersRaisesFarmTimeoutAfterTheDeadline() throws Exception {
    farm.broker.neverAnswer();
    FarmClientOptions impatient =
        fastRetries().requestServiceDeadline(Duration.ofMillis(200)).build();
    try (FarmClient waiting = farm.client(impatient)) {
      long started = System.nanoTime();

      FarmTimeoutException error =
          assertThrows(FarmTimeoutException.class, () -> waiting.requestService("redis"));

      assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(5));
      assertTrue(error.getMessage().startsWith("RequestService did not finish"),
          error.getMessage());
    }
  }

  @Test
  void blankIdempotencyKeyIsRefusedBeforeCalling() {
    assertThrows(IllegalArgumentException.class, () -> client.requestService("redis", " "));
    assertEquals(0, farm.broker.faults.calls());
  }

  static Vm vm(String id, VmState state, String hostId) {
    return Vm.newBuilder().setId(id).setState(state).setDesiredState(state).setHostId(hostId)
        .setDefinition("redis").addServices("redis")
        .addAccess(Access.newBuilder().setService("redis").setHost("10.0.0.5").setPort(40000))
        .setCreatedAt(FakeFarmAdmin.CREATED_AT)
        .build();
  }
}
