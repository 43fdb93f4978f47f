package org.servicefarm.controller.broker;

import org.servicefarm.controller.operations.OperationTracker;
import org.servicefarm.controller.operations.OperationResult;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.broker.Broker;
import org.servicefarm.controller.broker.Leases;
import org.servicefarm.controller.broker.VmWaiter;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.OperationRepository;
import org.servicefarm.controller.db.OperationRepository.RunningRequest;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.reconcile.Reconciler;

/**
 * Finishes requests whose controller stopped before they did. A request's operation is finished
 * by the controller that decided it (or one that sees its idempotency key again); when that
 * controller dies, the row would stay RUNNING. On {@link #resume()} every request still RUNNING
 * that was decided before the call (by a controller that no longer leads) is followed as {@code Broker.requestNoWait}
 * follows its own: once the VM is ACTIVE, the lease the decision held starts its term and the
 * operation is READY with the access; a VM that fails or does not come within the request wait
 * (counted from the resumption) fails it.
 *
 * <p>It runs when this controller becomes the leader, which decides every request from then on and
 * follows those itself. A request already followed elsewhere may be followed twice; that is harmless:
 * only a RUNNING operation is finished, the first answer wins, and the peer's wait, begun earlier,
 * ends first.
 */
public final class OperationResumer {
  private static final Logger LOG = Logger.getLogger(OperationResumer.class.getName());
  /** Between attempts while the VM cannot move (its host has not reconnected yet). */
  private static final Duration RETRY_PAUSE = Duration.ofSeconds(1);

  private final Database db;
  private final OperationRepository operations;
  private final VmRepository vms;
  private final OperationTracker tracker;
  private final VmWaiter waiter;
  private final Leases leases;
  private final Reconciler reconciler;
  private final Duration wait;
  private final Set<UUID> following = ConcurrentHashMap.newKeySet();

  /** @param wait how long a resumed request may take before it fails as timed out */
  public OperationResumer(Database db, OperationRepository operations, VmRepository vms,
      OperationTracker tracker, VmWaiter waiter, Leases leases, Reconciler reconciler,
      Duration wait) {
    this.db = db;
    this.operations = operations;
    this.vms = vms;
    this.tracker = tracker;
    this.waiter = waiter;
    this.leases = leases;
    this.reconciler = reconciler;
    this.wait = wait;
  }

  /**
   * Starts following every request left RUNNING by a controller that stopped; returns how many it
   * took over now. Safe to call again (e.g. on becoming leader): a request already followed here
   * is skipped. When the database cannot be read the call is logged and takes over nothing; the
   * next call tries again.
   */
  public int resume() {
    try {
      // The database's clock, as the operations' own times are.
      Instant decidedBefore = operations.databaseNow(db);
      int taken = 0;
      for (RunningRequest request : operations.runningRequests(db, decidedBefore)) {
        if (following.add(request.id())) {
          follow(request);
          taken++;
        }
      }
      if (taken > 0) {
        LOG.info("resumed " + taken + " requests left running by a controller that stopped");
      }
      return taken;
    } catch (DatabaseException e) {
      LOG.log(Level.WARNING, "requests left running were not resumed (they stay RUNNING until the"
          + " next resume or a repeat of their key): {0}", e.getMessage());
      return 0;
    }
  }

  private void follow(RunningRequest r) {
    activeBy(r, Instant.now().plus(wait))
        .thenApply(granted -> {
          // A peer that finished it meanwhile gave the answer and its lease; keep out.
          if (!stillRunning(r.id())) {
            return null;
          }
          return new OperationResult(granted.vmId(), granted.service(), granted.host(),
              granted.port(), granted.created(),
              leases.startResumedTerm(r.vmId(), r.service(), r.key(), r.decidedAt()).id());
        })
        .whenComplete((result, failure) -> {
          following.remove(r.id());
          if (failure == null) {
            if (result != null) {
              tracker.succeeded(r.id(), result);
            }
            return;
          }
          Throwable cause = unwrap(failure);
          try {
            if (stillRunning(r.id())) {
              leases.cancelResumed(r.vmId(), r.service(), r.key(), r.decidedAt());
            }
          } catch (DatabaseException cancelFailure) {
            // The operation records why it failed; the held lease expires on its own.
            cause.addSuppressed(cancelFailure);
          }
          tracker.failed(r.id(), cause);
        });
  }

  /**
   * The VM's access once it is ACTIVE. Right after a restart its host may not have reconnected
   * yet, and the reconciler tells waiters it cannot move the VM now (UNAVAILABLE); unlike a
   * caller, who can retry, a resumed request waits that out until its deadline, and fails only
   * when the VM can no longer come (FAILED, DELETED) or the time is up.
   */
  private CompletableFuture<Broker.Granted> activeBy(RunningRequest r, Instant deadline) {
    Duration left = Duration.between(Instant.now(), deadline);
    CompletableFuture<Broker.Granted> attempt;
    try {
      reconciler.kick(r.vmId());
      attempt = waiter.whenActive(r.vmId(), r.service(), r.created(),
          left.isNegative() ? Duration.ZERO : left);
    } catch (FarmException | DatabaseException e) {
      attempt = CompletableFuture.failedFuture(e); // the VM row is gone, or the database
    }
    return attempt.handle((granted, failure) -> {
      if (failure == null) {
        return CompletableFuture.completedFuture(granted);
      }
      Throwable cause = unwrap(failure);
      boolean mayPass = cause instanceof FarmException.Unavailable
          || cause instanceof DatabaseException;
      if (!mayPass || left.compareTo(RETRY_PAUSE) <= 0 || vmIsFinal(r.vmId())) {
        return CompletableFuture.<Broker.Granted>failedFuture(cause);
      }
      return CompletableFuture.supplyAsync(() -> activeBy(r, deadline),
          CompletableFuture.delayedExecutor(RETRY_PAUSE.toMillis(), TimeUnit.MILLISECONDS))
          .thenCompose(next -> next);
    }).thenCompose(next -> next);
  }

  private boolean vmIsFinal(UUID vmId) {
    try {
      return db.inTransaction(tx -> vms.find(tx, vmId)).map(vm -> vm.state().isFinal())
          .orElse(true);
    } catch (DatabaseException e) {
      return false; // unknown yet: the next attempt looks again
    }
  }

  private boolean stillRunning(UUID id) {
    return tracker.find(id).map(row -> !row.phase().isDone()).orElse(false);
  }

  private static Throwable unwrap(Throwable t) {
    return t instanceof CompletionException c && c.getCause() != null ? c.getCause() : t;
  }
}
