package org.servicefarm.controller.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RequestRateLimiterTest {
  private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
  private final RequestRateLimiter limiter =
      new RequestRateLimiter(new RequestRateLimiter.Limit(10, 20), nanos::get);

  private int admitted(String key, int calls) {
    int ok = 0;
    for (int i = 0; i < calls; i++) {
      ok += limiter.refusal(key, "token 'k'").isEmpty() ? 1 : 0;
    }
    return ok;
  }

  @Test
  void aBurstIsAdmittedThenTheCallerIsRefusedNamingItselfAndTheLimit() {
    assertEquals(20, admitted("token:a", 20));
    Status refused = limiter.refusal("token:a", "token 'ci-runner'").orElseThrow();
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getCode());
    assertTrue(refused.getDescription().contains("token 'ci-runner'"), refused.getDescription());
    assertTrue(refused.getDescription().contains("10 requests/s (burst 20)"),
        refused.getDescription());
  }

  @Test
  void theBucketRefillsAtTheRate() {
    admitted("token:a", 20);
    nanos.addAndGet(500_000_000L); // half a second: five requests' worth
    assertEquals(5, admitted("token:a", 10));
    nanos.addAndGet(60_000_000_000L); // a minute idle refills only up to the burst
    assertEquals(20, admitted("token:a", 30));
  }

  @Test
  void oneCallerOverItsLimitLeavesAnotherUntouched() {
    admitted("token:a", 100);
    assertEquals(20, admitted("token:b", 20));
  }

  @Test
  void aClockGoingBackwardsGrantsNothingExtra() {
    admitted("token:a", 20);
    nanos.addAndGet(-5_000_000_000L);
    assertEquals(0, admitted("token:a", 5));
  }

  @Test
  void zeroTurnsTheLimitOff() {
    RequestRateLimiter off = new RequestRateLimiter(RequestRateLimiter.Limit.perSecond(0),
        nanos::get);
    for (int i = 0; i < 10_000; i++) {
      assertFalse(off.refusal("token:a", "token 'a'").isPresent());
    }
    assertEquals(new RequestRateLimiter.Limit(200, 400), RequestRateLimiter.Limit.perSecond(200));
    assertThrows(IllegalArgumentException.class, () -> new RequestRateLimiter.Limit(-1, 5));
  }
}
