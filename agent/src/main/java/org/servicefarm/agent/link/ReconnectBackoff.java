package org.servicefarm.agent.link;

import java.time.Duration;
import java.util.random.RandomGenerator;

/**
 * Delays between reconnect attempts: 200 ms doubling up to 5 s, each drawn at random from the
 * upper half of its step so that agents cut off together do not all return at the same instant.
 */
public final class ReconnectBackoff {

  static final Duration FIRST = Duration.ofMillis(200);
  static final Duration MAX = Duration.ofSeconds(5);

  private final RandomGenerator random;
  private int failures; // guarded by this

  public ReconnectBackoff(RandomGenerator random) {
    this.random = random;
  }

  public synchronized Duration nextDelay() {
    long step = FIRST.toMillis() << Math.min(failures, 16);
    step = Math.min(step, MAX.toMillis());
    failures++;
    long half = step / 2;
    return Duration.ofMillis(half + random.nextLong(half + 1));
  }

  /** After a successful registration the next failure starts from the first step again. */
  public synchronized void reset() {
    failures = 0;
  }
}
