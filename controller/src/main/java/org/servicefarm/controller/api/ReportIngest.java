package org.servicefarm.controller.api;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Logger;
import org.servicefarm.api.v1.LoadReport;

/**
 * Squares agents' load reports with the VM table off their streams' threads. A stream's messages
 * are handled one at a time, so a report waiting for the database would hold up the command
 * results behind it (and the reconciler waiting for them). Here each host's reports run one at a
 * time on a small pool, and a report that arrives while an older one still waits replaces it:
 * every report carries the host's whole inventory, so only the newest matters.
 */
final class ReportIngest {
  private static final Logger LOG = Logger.getLogger(ReportIngest.class.getName());

  /** A host's newest report not yet taken, and whether a worker is on the host now. */
  private static final class Slot {
    LoadReport next; // guarded by this
    boolean scheduled; // guarded by this
  }

  private final Map<String, Slot> slots = new ConcurrentHashMap<>();
  private final ThreadPoolExecutor workers;

  ReportIngest(int threads) {
    // Idle workers end, so controllers made and dropped (as in tests) leave no threads behind.
    this.workers = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS,
        new LinkedBlockingQueue<>(), r -> {
          Thread t = new Thread(r, "report-ingest");
          t.setDaemon(true);
          return t;
        });
    workers.allowCoreThreadTimeOut(true);
  }

  /** Hands the report to {@code handler} soon, after any of the host's reports before it. */
  void submit(String hostId, LoadReport report, Consumer<LoadReport> handler) {
    Slot slot = slots.computeIfAbsent(hostId, id -> new Slot());
    synchronized (slot) {
      slot.next = report;
      if (slot.scheduled) {
        return; // the worker on this host takes it next
      }
      slot.scheduled = true;
    }
    try {
      workers.execute(() -> drain(slot, handler));
    } catch (RejectedExecutionException e) {
      LOG.fine("report of host " + hostId + " dropped: the controller is stopping");
    }
  }

  private static void drain(Slot slot, Consumer<LoadReport> handler) {
    while (true) {
      LoadReport report;
      synchronized (slot) {
        report = slot.next;
        slot.next = null;
        if (report == null) {
          slot.scheduled = false;
          return;
        }
      }
      try {
        handler.accept(report);
      } catch (RuntimeException e) {
        // Must not end the loop: the slot would stay scheduled and the host's reports unread.
        LOG.log(java.util.logging.Level.SEVERE, "a load report could not be applied", e);
      }
    }
  }
}
