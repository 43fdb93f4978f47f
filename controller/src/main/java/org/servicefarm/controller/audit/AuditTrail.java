package org.servicefarm.controller.audit;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.controller.db.AuditRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.model.AuditRecord;

/**
 * Writes the audit trail. A call that changed the farm is written before its answer leaves, so
 * no change is answered without its record. Refused calls are bounded: per caller (token, or
 * peer address without one) and status code, the first refusal in a {@link #WINDOW} is written
 * at once and the rest are counted into one summary record when the window ends; past
 * {@link #MAX_CALLERS_PER_WINDOW} distinct callers in a window, further ones share one summary.
 * So a flood of refused calls writes a bounded number of rows per window whatever its size.
 */
public final class AuditTrail implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(AuditTrail.class.getName());
  public static final Duration WINDOW = Duration.ofMinutes(1);
  static final int MAX_CALLERS_PER_WINDOW = 100;
  private static final int PRUNE_BATCH = 10_000;

  private record TallyKey(String caller, String outcome) {}

  /** Refusals of one caller and code in the current window after the first (which is written). */
  private static final class Tally {
    final AuditRecord first;
    int more;
    String lastMethod;

    Tally(AuditRecord first) {
      this.first = first;
      this.lastMethod = first.method();
    }
  }

  private final Database db;
  private final AuditRepository records;
  private final Clock clock;
  private final Duration retention;
  private final Map<TallyKey, Tally> window = new HashMap<>();
  private Instant windowStart;
  private ScheduledExecutorService flusher;

  public AuditTrail(Database db, AuditRepository records, Clock clock, Duration retention) {
    this.db = db;
    this.records = records;
    this.clock = clock;
    this.retention = retention;
    this.windowStart = clock.instant();
  }

  /**
   * Writes each window's summaries soon after it ends, on every controller (followers refuse
   * calls too), until {@link #close()}.
   */
  public synchronized void start() {
    if (flusher == null) {
      flusher = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "audit-trail-flush");
        t.setDaemon(true);
        return t;
      });
      flusher.scheduleWithFixedDelay(this::flushEndedWindowLogged, 5, 5, TimeUnit.SECONDS);
    }
  }

  /** Stops the flushing and writes the current window's summaries. */
  @Override
  public void close() {
    ScheduledExecutorService running;
    synchronized (this) {
      running = flusher;
      flusher = null;
    }
    if (running != null) {
      running.shutdownNow();
    }
    flush();
  }

  /** Records a call that changed the farm (or tried to and failed for another reason). */
  public void changed(AuditRecord record) {
    write(record);
  }

  /** Records a refused call, or counts it into its window's summary. */
  public void refused(AuditRecord record) {
    List<AuditRecord> toWrite = new ArrayList<>(2);
    synchronized (this) {
      toWrite.addAll(closeWindowIfOver());
      TallyKey key = new TallyKey(callerKey(record), record.outcome());
      Tally tally = window.get(key);
      if (tally == null && window.size() >= MAX_CALLERS_PER_WINDOW) {
        key = new TallyKey("others", record.outcome());
        tally = window.get(key);
        if (tally == null) {
          // The overflow's first refusal starts its tally; it is counted, not written alone.
          tally = new Tally(AuditRecord.unsaved(null, "anonymous", null,
              "callers beyond " + MAX_CALLERS_PER_WINDOW + " in one window", "", record.method(),
              "", record.outcome(), "", 1));
          window.put(key, tally);
        }
      }
      if (tally == null) {
        window.put(key, new Tally(record));
        toWrite.add(record);
      } else {
        tally.more++;
        tally.lastMethod = record.method();
      }
    }
    toWrite.forEach(this::write);
  }

  /** Writes the summaries of a window that has ended; runs every few seconds. */
  public void flushEndedWindow() {
    List<AuditRecord> summaries;
    synchronized (this) {
      summaries = closeWindowIfOver();
    }
    summaries.forEach(this::write);
  }

  /** Writes the current window's summaries now, ended or not (at shutdown, and in tests). */
  public void flush() {
    List<AuditRecord> summaries;
    synchronized (this) {
      summaries = summariesAndReset(clock.instant());
    }
    summaries.forEach(this::write);
  }

  /** Deletes records older than the retention; the leader runs it now and then. */
  public void prune() {
    Instant before = clock.instant().minus(retention);
    int deleted;
    do {
      deleted = records.deleteOlderThan(db, before, PRUNE_BATCH);
    } while (deleted == PRUNE_BATCH);
  }

  private void flushEndedWindowLogged() {
    try {
      flushEndedWindow();
    } catch (RuntimeException e) {
      // A scheduled task that throws is never run again; keep flushing after a bad moment.
      LOG.log(Level.WARNING, "could not write audit summaries", e);
    }
  }

  private List<AuditRecord> closeWindowIfOver() {
    Instant now = clock.instant();
    if (now.isBefore(windowStart.plus(WINDOW))) {
      return List.of();
    }
    return summariesAndReset(now);
  }

  private List<AuditRecord> summariesAndReset(Instant now) {
    List<AuditRecord> summaries = new ArrayList<>();
    for (Tally t : window.values()) {
      if (t.more > 0) {
        AuditRecord f = t.first;
        summaries.add(AuditRecord.unsaved(windowStart, f.callerKind(), f.tokenId(), f.caller(),
            f.peer(), t.lastMethod, "", f.outcome(), AuditText.bounded(t.more
                + " more refused calls between " + windowStart + " and " + now + " (last: "
                + t.lastMethod + ")", AuditText.DETAIL_LIMIT), t.more));
      }
    }
    window.clear();
    windowStart = now;
    return summaries;
  }

  private static String callerKey(AuditRecord r) {
    UUID token = r.tokenId();
    // Without a token, the caller is its address; its port changes with every connection.
    int port = r.peer().lastIndexOf(':');
    String host = port > 0 ? r.peer().substring(0, port) : r.peer();
    return token != null ? "token:" + token : r.callerKind() + ":" + r.caller() + "@" + host;
  }

  private void write(AuditRecord record) {
    Objects.requireNonNull(record);
    try {
      records.append(db, record);
    } catch (DatabaseException e) {
      // The call's own answer must not depend on the trail; the log keeps what was lost.
      LOG.warning(() -> "could not write the audit record of " + record.method() + " by "
          + record.caller() + " (" + record.outcome() + "): " + e.getMessage());
    }
  }
}
