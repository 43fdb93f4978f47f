package org.servicefarm.controller.lifecycle;

import java.time.Clock;
import java.time.Duration;
import java.util.logging.Logger;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.HistoryRepository;

/**
 * The leader's hourly removal of history past its retention ({@link HistoryRetention}): DELETED
 * VMs' rows, then events, each in batches of {@link #BATCH} rows a transaction, so no
 * transaction is long and nothing waits behind one.
 */
public final class HistoryPruner {
  private static final Logger LOG = Logger.getLogger(HistoryPruner.class.getName());
  static final int BATCH = 5_000;

  private final Database db;
  private final HistoryRepository history;
  private final HistoryRetention retention;
  private final Clock clock;

  public HistoryPruner(Database db, HistoryRepository history, HistoryRetention retention,
      Clock clock) {
    this.db = db;
    this.history = history;
    this.retention = retention;
    this.clock = clock;
  }

  /** Removes what is past its retention; returns the VM rows and events removed. */
  public long[] prune() {
    long vms = 0;
    long events = 0;
    if (!retention.deletedVms().isZero()) {
      int n;
      do {
        n = history.deleteDeletedVms(db, clock.instant().minus(retention.deletedVms()), BATCH);
        vms += n;
      } while (n == BATCH);
    }
    if (!retention.events().isZero()) {
      int n;
      do {
        n = history.deleteEvents(db, clock.instant().minus(retention.events()), BATCH);
        events += n;
      } while (n == BATCH);
    }
    if (vms + events > 0) {
      LOG.info("history retention removed " + vms + " deleted VMs' rows (older than "
          + days(retention.deletedVms()) + ") and " + events + " events (older than "
          + days(retention.events()) + ")");
    }
    return new long[] {vms, events};
  }

  private static String days(Duration d) {
    return d.isZero() ? "never" : d.toDays() + " days";
  }
}
