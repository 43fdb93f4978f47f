package org.servicefarm.controller.events;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.servicefarm.controller.db.EventRepository.Event;

/**
 * Turns polled events into a stream in id order without gaps or duplicates, although event ids
 * (a bigserial) can become visible out of order: a transaction takes its id when it inserts, but
 * another transaction with a larger id may commit first. An event after a gap is held back until
 * the gap fills (the slower transaction commits) or until it has waited {@code grace}; then the
 * missing ids are taken to be gone for good (a rolled-back transaction, or ids a sequence skipped)
 * and the events after them are released. Transactions here are short (milliseconds: no agent
 * work happens inside one), so a grace of a couple of seconds covers every commit that comes.
 *
 * <p>Pure: the caller polls ({@code WHERE id > delivered()}) and passes the clock.
 */
public final class HoldBackWindow {
  private record Seen(Event event, long seenAtNanos) {}

  private final long graceNanos;
  private final TreeMap<Long, Seen> pending = new TreeMap<>();
  private long delivered;

  /** @param delivered the id up to which everything counts as delivered already */
  public HoldBackWindow(long delivered, Duration grace) {
    this.delivered = delivered;
    this.graceNanos = grace.toNanos();
  }

  /** Every id up to this one has been released or given up; poll for ids above it. */
  public long delivered() {
    return delivered;
  }

  /** Events seen but held back behind a gap. */
  public int heldBack() {
    return pending.size();
  }

  /**
   * Takes a poll's events (any order, repeats allowed) and returns those that can go out now,
   * in id order.
   */
  public List<Event> accept(List<Event> polled, long nowNanos) {
    for (Event e : polled) {
      if (e.id() > delivered) {
        pending.putIfAbsent(e.id(), new Seen(e, nowNanos));
      }
    }
    List<Event> released = new ArrayList<>();
    while (!pending.isEmpty()) {
      Map.Entry<Long, Seen> first = pending.firstEntry();
      boolean next = first.getKey() == delivered + 1;
      boolean waitedOut = nowNanos - first.getValue().seenAtNanos() >= graceNanos;
      if (!next && !waitedOut) {
        break;
      }
      pending.pollFirstEntry();
      delivered = first.getKey();
      released.add(first.getValue().event());
    }
    return released;
  }
}
