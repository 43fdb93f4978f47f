package org.servicefarm.controller.reconcile;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * How many ORPHAN events (and log lines) one host may cause a minute. Orphans are rare and each
 * is worth an event, but a host reporting thousands (a hostile or broken agent) must not flood
 * the events table and the log: past the budget they are counted, and the first orphan of the
 * next minute's events says how many went unrecorded. Pure bookkeeping, no I/O.
 */
final class OrphanEventBudget {
  static final int PER_HOST_PER_MINUTE = 20;
  private static final Duration WINDOW = Duration.ofMinutes(1);

  private record Window(Instant start, int used, long skipped) {}

  private final Map<String, Window> hosts = new ConcurrentHashMap<>();

  /**
   * What a report may record now: whether this orphan gets an event, and how many were skipped
   * (before it, when it is recorded; counting it, when it is not).
   */
  record Spend(boolean record, long skippedBefore) {
    /** The first orphan of its window past the budget: worth one line saying so. */
    boolean firstSkipped() {
      return !record && skippedBefore == 1;
    }
  }

  /** Takes one event from the host's budget at {@code now}. */
  Spend spend(String hostId, Instant now) {
    Spend[] spend = new Spend[1];
    hosts.compute(hostId, (id, w) -> {
      if (w == null || !now.isBefore(w.start().plus(WINDOW))) {
        long skipped = w == null ? 0 : w.skipped();
        spend[0] = new Spend(true, skipped);
        return new Window(now, 1, 0);
      }
      if (w.used() < PER_HOST_PER_MINUTE) {
        spend[0] = new Spend(true, w.skipped());
        return new Window(w.start(), w.used() + 1, 0);
      }
      spend[0] = new Spend(false, w.skipped() + 1);
      return new Window(w.start(), w.used(), w.skipped() + 1);
    });
    return spend[0];
  }
}
