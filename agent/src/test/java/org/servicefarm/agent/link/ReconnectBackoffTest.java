package org.servicefarm.agent.link;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ReconnectBackoffTest {

  private static void assertBetween(long lowMillis, long highMillis, Duration delay) {
    assertTrue(delay.toMillis() >= lowMillis && delay.toMillis() <= highMillis,
        delay.toMillis() + " ms not in " + lowMillis + "-" + highMillis);
  }

  @Test
  void delaysDoubleFrom200MillisAndStopAtFiveSeconds() {
    var backoff = new ReconnectBackoff(new SplittableRandom(1));
    assertBetween(100, 200, backoff.nextDelay());
    assertBetween(200, 400, backoff.nextDelay());
    assertBetween(400, 800, backoff.nextDelay());
    for (int i = 0; i < 40; i++) {
      assertBetween(0, 5000, backoff.nextDelay());
    }
    assertBetween(2500, 5000, backoff.nextDelay());
  }

  @Test
  void successfulRegistrationStartsOverFromTheFirstStep() {
    var backoff = new ReconnectBackoff(new SplittableRandom(2));
    for (int i = 0; i < 10; i++) {
      backoff.nextDelay();
    }
    backoff.reset();
    assertBetween(100, 200, backoff.nextDelay());
  }

  @Test
  void agentsCutOffTogetherDoNotAllRedialAtOnce() {
    var first = new ReconnectBackoff(new SplittableRandom(3));
    var second = new ReconnectBackoff(new SplittableRandom(4));
    boolean differed = false;
    for (int i = 0; i < 10; i++) {
      differed |= !first.nextDelay().equals(second.nextDelay());
    }
    assertTrue(differed, "jitter produced identical schedules");
  }
}
