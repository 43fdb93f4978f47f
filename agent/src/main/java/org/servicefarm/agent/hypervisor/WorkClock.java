package org.servicefarm.agent.hypervisor;

import java.time.Instant;

/**
 * When a command's own hypervisor work began and ended (for a wake: the managed-save restore
 * itself, without looking the domain up or the status read after), so the controller can show
 * each hop of a command beside its own. Times are microseconds since the Unix epoch.
 */
public final class WorkClock {
  private volatile long startedMicros;
  private volatile long doneMicros;

  /** The hypervisor's work begins now (the first call counts). */
  public void started() {
    if (startedMicros == 0) {
      startedMicros = nowMicros();
    }
  }

  /** The hypervisor's work ended now (the last call counts). */
  public void done() {
    doneMicros = nowMicros();
  }

  public long startedMicros() {
    return startedMicros;
  }

  public long doneMicros() {
    return doneMicros;
  }

  /** Now, in microseconds since the Unix epoch. */
  public static long nowMicros() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
  }
}
