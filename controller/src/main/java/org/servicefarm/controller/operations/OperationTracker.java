package org.servicefarm.controller.operations;

import io.grpc.Status;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.OperationRepository;
import org.servicefarm.controller.db.OperationRepository.OperationRow;
import org.servicefarm.controller.model.OperationPhase;

/**
 * The phase bookkeeping of requests: the reconciler says at each step what a VM is doing, and
 * every running request of that VM moves to the matching phase; the broker records requests and
 * their outcome. Each change is written to {@code operations} (so any controller can answer a
 * watcher) and handed to this controller's watchers of the operation at once.
 *
 * <p>Bookkeeping never stops the work it describes: a write that fails is logged, and the next
 * step writes the phase again.
 */
public final class OperationTracker {
  private static final Logger LOG = Logger.getLogger(OperationTracker.class.getName());
  private static final List<OperationPhase> RUNNING =
      List.copyOf(EnumSet.complementOf(EnumSet.of(OperationPhase.READY, OperationPhase.FAILED)));
  /** Phases an install passes through; a transfer report moves only requests still in them. */
  private static final List<OperationPhase> INSTALL = List.of(OperationPhase.QUEUED,
      OperationPhase.PLACING, OperationPhase.BUILDING_IMAGE, OperationPhase.TRANSFERRING,
      OperationPhase.INSTALLING);

  private final Database db;
  private final OperationRepository operations;
  private final Function<Throwable, Status> statuses;
  private final Consumer<OperationRow> finished;
  private final Map<UUID, List<Consumer<OperationRow>>> listeners = new ConcurrentHashMap<>();
  private final WakeTimelines wakes = new WakeTimelines();

  /** @param statuses the status a failure answers a caller, as the API maps it */
  public OperationTracker(Database db, OperationRepository operations,
      Function<Throwable, Status> statuses) {
    this(db, operations, statuses, row -> { });
  }

  /**
   * @param finished told once of each request this controller finishes, with its final row
   *     (the metrics time it); a request finished twice (two followers) is told only by the first
   */
  public OperationTracker(Database db, OperationRepository operations,
      Function<Throwable, Status> statuses, Consumer<OperationRow> finished) {
    this.db = db;
    this.operations = operations;
    this.statuses = statuses;
    this.finished = finished;
  }

  /** The hop times of the wakes requests are waiting for, which the broker and steps mark. */
  public WakeTimelines wakes() {
    return wakes;
  }

  // ---- the reconciler's side: what the VM is doing now ----

  /** The VM entered a step; its running requests enter the phase. */
  public void entered(UUID vmId, OperationPhase phase, String message) {
    advance(vmId, RUNNING, phase, OperationPhases.percent(phase), message);
  }

  /** The VM's host reports bytes of its image fetched during an install. */
  public void transferring(UUID vmId, String hostId, long doneBytes, long totalBytes) {
    advance(vmId, INSTALL, OperationPhase.TRANSFERRING,
        OperationPhases.percent(OperationPhase.TRANSFERRING, doneBytes, totalBytes),
        "fetching the image to host " + hostId + ": "
            + OperationPhases.bytes(doneBytes, totalBytes));
  }

  /** The VM's host has its image and defines the VM. */
  public void installing(UUID vmId, String hostId) {
    advance(vmId, INSTALL, OperationPhase.INSTALLING,
        OperationPhases.percent(OperationPhase.INSTALLING), "installing on host " + hostId);
  }

  /** The VM's new host reports bytes fetched while restoring it. */
  public void restoring(UUID vmId, String hostId, long doneBytes, long totalBytes) {
    advance(vmId, List.of(OperationPhase.RESTORING), OperationPhase.RESTORING,
        OperationPhases.percent(OperationPhase.RESTORING, doneBytes, totalBytes),
        "restoring on host " + hostId + ": " + OperationPhases.bytes(doneBytes, totalBytes));
  }

  private void advance(UUID vmId, List<OperationPhase> from, OperationPhase phase, int percent,
      String message) {
    try {
      operations.advance(db, vmId, from, phase, percent, message).forEach(this::publish);
    } catch (DatabaseException e) {
      LOG.log(Level.WARNING, "requests of VM {0} not moved to {1}: {2}",
          new Object[] {vmId, phase, e.getMessage()});
    }
  }

  // ---- the broker's side: requests and their outcome ----

  /** Finishes the request with the outcome once there is one. */
  public void follow(UUID id, CompletableFuture<OperationResult> outcome) {
    outcome.whenComplete((result, failure) -> {
      if (failure == null) {
        succeeded(id, result);
      } else {
        failed(id, failure instanceof CompletionException c && c.getCause() != null
            ? c.getCause() : failure);
      }
    });
  }

  public void succeeded(UUID id, OperationResult result) {
    try {
      operations.succeed(db, id, result.host(), result.port(), result.leaseId())
          .ifPresent(this::publishFinished);
    } catch (DatabaseException e) {
      LOG.log(Level.WARNING, "request {0} succeeded but could not be recorded: {1}",
          new Object[] {id, e.getMessage()});
    }
  }

  /**
   * Records the request's success inside the caller's transaction (with its lease's start, so a
   * waiting request finishes in one commit); hand the row to {@link #published} after the commit.
   */
  public Optional<OperationRow> succeeded(Database.Tx tx, UUID id, OperationResult result)
      throws java.sql.SQLException {
    return operations.succeed(tx, id, result.host(), result.port(), result.leaseId());
  }

  /** Tells the operation's watchers about a change committed by the caller. */
  public void published(OperationRow row) {
    publishFinished(row);
  }

  public void failed(UUID id, Throwable failure) {
    Status status = statuses.apply(failure);
    String why = status.getDescription() == null ? status.getCode().name() : status.getDescription();
    try {
      operations.fail(db, id, why, status.getCode().value()).ifPresent(this::publishFinished);
    } catch (DatabaseException e) {
      LOG.log(Level.WARNING, "request {0} failed ({1}) but could not be recorded: {2}",
          new Object[] {id, why, e.getMessage()});
    }
  }

  // ---- the watchers' side ----

  public Optional<OperationRow> find(UUID id) {
    return operations.find(db, id);
  }

  /** Hands the listener every change of the operation made here; the result unsubscribes. */
  public Runnable subscribe(UUID id, Consumer<OperationRow> listener) {
    listeners.computeIfAbsent(id, k -> new CopyOnWriteArrayList<>()).add(listener);
    return () -> listeners.computeIfPresent(id, (k, list) -> {
      list.remove(listener);
      return list.isEmpty() ? null : list;
    });
  }

  private void publishFinished(OperationRow row) {
    finished.accept(row);
    publish(row);
  }

  private void publish(OperationRow row) {
    List<Consumer<OperationRow>> list = listeners.get(row.id());
    if (list != null) {
      list.forEach(l -> l.accept(row));
    }
  }
}
