package org.servicefarm.controller.api;

import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayDeque;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.api.v1.Access;
import org.servicefarm.api.v1.Lease;
import org.servicefarm.api.v1.OperationPhase;
import org.servicefarm.api.v1.OperationUpdate;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.auth.Caller;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.OperationRepository.OperationRow;
import org.servicefarm.controller.operations.OperationTracker;

/**
 * WatchOperation calls: the operation's current phase first, then each change until it is done.
 * Changes made on this controller arrive from the {@link OperationTracker} at once; the row is
 * also re-read every {@link #REREAD_SECONDS} s, for changes another controller made. The row's
 * version orders the two sources, so nothing is sent twice or out of order.
 */
final class OperationWatches implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(OperationWatches.class.getName());
  private static final long REREAD_SECONDS = 1;

  private final OperationTracker tracker;
  private final ScheduledExecutorService rereads = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "operation-watch");
    t.setDaemon(true);
    return t;
  });

  OperationWatches(OperationTracker tracker) {
    this.tracker = tracker;
  }

  /**
   * Starts following the operation on the call; NOT_FOUND when there is no such operation, or
   * when it is another caller's (only admins follow every caller's operations).
   */
  void watch(UUID id, ServerCallStreamObserver<OperationUpdate> out) {
    String caller = Caller.current();
    boolean admin = Caller.currentIsAdmin();
    Watch watch = new Watch(id, out);
    // Subscribed before reading, so a change committed in between arrives one way or the other.
    watch.unsubscribe = tracker.subscribe(id, watch::offer);
    OperationRow current;
    try {
      // Another caller's operation is answered as one that does not exist: its id says nothing.
      current = tracker.find(id)
          .filter(row -> admin || row.caller() == null || row.caller().equals(caller))
          .orElseThrow(() -> new FarmException.NotFound("no operation with id " + id
              + " of this caller (operation ids come from RequestService with no_wait)"));
    } catch (RuntimeException e) {
      watch.unsubscribe.run();
      throw e;
    }
    out.setOnReadyHandler(watch::send);
    out.setOnCancelHandler(watch::stop);
    // Scheduled before the first send, which may end the watch and must cancel the re-reads.
    watch.reread = rereads.scheduleWithFixedDelay(watch::reread, REREAD_SECONDS, REREAD_SECONDS,
        TimeUnit.SECONDS);
    watch.offer(current);
  }

  /** One call: rows to send, in version order; consecutive progress of one phase collapses. */
  private final class Watch {
    private final UUID id;
    private final ServerCallStreamObserver<OperationUpdate> out;
    private final ArrayDeque<OperationRow> queued = new ArrayDeque<>(); // guarded by this
    private long queuedVersion = -1; // guarded by this
    private boolean ended; // guarded by this
    volatile Runnable unsubscribe = () -> { };
    volatile ScheduledFuture<?> reread;

    Watch(UUID id, ServerCallStreamObserver<OperationUpdate> out) {
      this.id = id;
      this.out = out;
    }

    void offer(OperationRow row) {
      synchronized (this) {
        if (ended || row.version() <= queuedVersion) {
          return;
        }
        OperationRow last = queued.peekLast();
        if (last != null && last.phase() == row.phase() && !row.phase().isDone()) {
          queued.pollLast(); // a newer percentage of the same phase replaces the unsent one
        }
        queued.add(row);
        queuedVersion = row.version();
      }
      send();
    }

    void reread() {
      try {
        tracker.find(id).ifPresent(this::offer);
      } catch (DatabaseException e) {
        LOG.log(Level.FINE, "operation {0} not re-read: {1}", new Object[] {id, e.getMessage()});
      } catch (RuntimeException e) {
        // Must not escape: a periodic task that throws is never run again.
        LOG.log(Level.WARNING, "operation watch re-read failed", e);
      }
    }

    synchronized void send() {
      while (!ended && !queued.isEmpty() && out.isReady() && !out.isCancelled()) {
        OperationRow row = queued.poll();
        out.onNext(update(row));
        if (row.phase().isDone()) {
          out.onCompleted();
          stop();
        }
      }
    }

    synchronized void stop() {
      ended = true;
      queued.clear();
      unsubscribe.run();
      ScheduledFuture<?> r = reread;
      if (r != null) {
        r.cancel(false);
      }
    }
  }

  static OperationUpdate update(OperationRow row) {
    OperationUpdate.Builder b = OperationUpdate.newBuilder()
        .setOperationId(row.id().toString())
        .setPhase(OperationPhase.valueOf("OPERATION_PHASE_" + row.phase().name()))
        .setProgressPercent(row.progressPercent())
        .setMessage(row.message() == null ? "" : row.message())
        .setDone(row.phase().isDone());
    if (row.phase() == org.servicefarm.controller.model.OperationPhase.READY) {
      RequestServiceResponse.Builder result = RequestServiceResponse.newBuilder()
          .setVmId(row.vmId().toString())
          .setState(VmState.VM_STATE_ACTIVE)
          .setCreated(row.created())
          .setOperationId(row.id().toString());
      if (row.resultHost() != null) {
        result.setAccess(Access.newBuilder().setService(row.service()).setHost(row.resultHost())
            .setPort(row.resultPort()));
      }
      if (row.leaseId() != null && row.leaseExpiresAt() != null) {
        result.setLease(Lease.newBuilder().setId(row.leaseId().toString())
            .setVmId(row.vmId().toString()).setService(row.service())
            .setExpiresAt(ProtoMapping.timestamp(row.leaseExpiresAt()))
            .setTtlSeconds(row.leaseTtlSeconds()));
      }
      b.setResult(result);
    } else if (row.phase() == org.servicefarm.controller.model.OperationPhase.FAILED) {
      b.setError(row.error() == null ? "" : row.error())
          .setErrorCode(row.errorCode() == null ? io.grpc.Status.Code.UNKNOWN.value()
              : row.errorCode());
    }
    return b.build();
  }

  @Override
  public void close() {
    rereads.shutdownNow();
  }
}
