package org.servicefarm.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Timestamp;
import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Access;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.VmState;

/** Leases through the SDK: the lease in an answer, renew and release, and HeldService. */
class LeaseClientTest {
  private static final Instant EXPIRES = Instant.parse("2030-01-01T00:00:00Z");
  private static final Duration PATIENCE = Duration.ofSeconds(20);

  private FakeFarmServer farm;
  private FarmClient client;

  @BeforeEach
  void startFarm() throws Exception {
    farm = new FakeFarmServer();
    farm.broker.answer("redis", RequestServiceResponse.newBuilder()
        .setVmId("vm-7")
        .setAccess(Access.newBuilder().setService("redis").setHost("10.0.0.5").setPort(40123))
        .setState(VmState.VM_STATE_ACTIVE)
        .setLease(org.servicefarm.api.v1.Lease.newBuilder().setId("lease-1").setVmId("vm-7")
            .setService("redis").setTtlSeconds(1)
            .setExpiresAt(Timestamp.newBuilder().setSeconds(EXPIRES.getEpochSecond())))
        .build());
    client = farm.client(FarmClientOptions.builder()
        .initialBackoff(Duration.ofMillis(1)).maxBackoff(Duration.ofMillis(5)).build());
  }

  @AfterEach
  void stopFarm() throws Exception {
    client.close();
    farm.close();
  }

  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + PATIENCE.toNanos();
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
      Thread.sleep(20);
    }
  }

  @Test
  void theAnswerCarriesTheLeaseAndTheRequestItsTtl() {
    ServiceAccess access = client.requestService("redis", "key-1", Duration.ofSeconds(300));

    assertEquals(new Lease("lease-1", "vm-7", "redis", EXPIRES, Duration.ofSeconds(1)),
        access.lease());
    assertEquals(300, farm.broker.requests().get(0).getLeaseTtlSeconds());
    assertEquals("lease-1", access.toProto().getLease().getId());
  }

  @Test
  void renewAndReleaseSendTheLeaseIdAndTtl() {
    Lease renewed = client.renewLease("lease-1", Duration.ofSeconds(90));
    client.releaseLease("lease-1");

    assertEquals(Duration.ofSeconds(90), renewed.ttl());
    assertEquals(90, farm.broker.renewals().get(0).getTtlSeconds());
    assertEquals(List.of("lease-1"), farm.broker.releases());
    assertThrows(IllegalArgumentException.class,
        () -> client.renewLease("lease-1", Duration.ofMillis(1500)));
  }

  @Test
  void aHeldServiceRenewsInTheBackgroundAndReleasesOnClose() throws Exception {
    HeldService held = client.hold("redis");
    assertEquals("10.0.0.5:40123", held.access().endpoint());

    await("two renewals", () -> farm.broker.renewals().size() >= 2);
    assertTrue(held.lease().expiresAt().isBefore(EXPIRES), "the renewed lease replaced the first");
    assertTrue(held.held());
    held.close();

    assertFalse(held.held());
    assertEquals(List.of("lease-1"), farm.broker.releases());
  }

  @Test
  void aFailedRenewalIsSurfacedAndRetried() throws Exception {
    farm.broker.leaseFaults.failNext(Status.INTERNAL.withDescription("disk full"), 2);
    try (HeldService held = client.hold("redis")) {
      await("a renewal error", () -> held.lastRenewalError().isPresent());
      assertEquals(Status.Code.INTERNAL, held.lastRenewalError().get().code());
      assertTrue(held.held(), "a failed renewal does not end the lease");

      await("a renewal after the failures", () -> !farm.broker.renewals().isEmpty());
      await("the error cleared", () -> held.lastRenewalError().isEmpty());
    }
    assertEquals(List.of("lease-1"), farm.broker.releases());
  }

  @Test
  void aLeaseThatEndedIsReportedLostAndNotRenewedAgain() throws Exception {
    farm.broker.endLeases();
    try (HeldService held = client.hold("redis")) {
      await("the hold lost", () -> !held.held());
      assertEquals(Status.Code.FAILED_PRECONDITION, held.lastRenewalError().get().code());
      assertTrue(held.lastRenewalError().get().getMessage().contains("expired"));
    }
    assertEquals(List.of(), farm.broker.releases(), "nothing left to release");
  }
}
