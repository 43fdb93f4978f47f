package org.servicefarm.controller.broker;

import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.GroupCommit;
import org.servicefarm.controller.db.LeaseRepository;
import org.servicefarm.controller.db.RequestRoutes;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.LeaseRecord;
import org.servicefarm.controller.model.RequestKey;
import org.servicefarm.controller.model.VmRecord;

/**
 * Leases on VMs: a client holds one while it uses a VM, renews it before it expires and releases
 * it when done. A VM with no live lease is idle, and the idle ladder may put it away.
 *
 * <p>A request that has to wait for its VM (woken, built) holds its lease from the moment it
 * decides, so concurrent requests count it against max_leases_per_vm; that first term covers the
 * wait, and the lease's own TTL starts when the VM is ACTIVE and the caller is answered.
 */
public final class Leases {
  public static final int DEFAULT_TTL_SECONDS = 60;
  public static final int MAX_TTL_SECONDS = 3600;

  private final Database db;
  private final LeaseRepository leases;
  private final VmRepository vms;
  private final RequestRoutes routes;
  /** Renewals and releases commit in batches with warm requests. */
  private final GroupCommit commits;

  public Leases(Database db, LeaseRepository leases, VmRepository vms, RequestRoutes routes,
      GroupCommit commits) {
    this.commits = commits;
    this.db = db;
    this.leases = leases;
    this.vms = vms;
    this.routes = routes;
  }

  /**
   * Extends a live lease to {@code ttlSeconds} from now (0: by the lease's own TTL).
   *
   * @throws FarmException.NotFound when there is no such lease
   * @throws FarmException.Conflict when the lease was released, expired, or its VM is gone
   */
  public LeaseRecord renew(UUID id, int ttlSeconds) {
    return renew(id, ttlSeconds, 0);
  }

  /**
   * {@link #renew(UUID, int)}, the lease from now standing for {@code connections} users of its
   * VM (0: as many as before), which max_leases_per_vm counts.
   */
  public LeaseRecord renew(UUID id, int ttlSeconds, int connections) {
    // Group-committed: every refusal below is thrown before the one write (the renewal), or
    // after it wrote nothing.
    return commits.run(tx -> {
      LeaseRecord lease = leases.find(tx, id).orElseThrow(() -> notFound(id));
      refuseEnded(lease, leases.now(tx), "renew");
      VmRecord vm = vms.find(tx, lease.vmId()).orElseThrow();
      if (vm.state().isFinal() || vm.desiredState() == DesiredState.DELETED) {
        throw new FarmException.Conflict("cannot renew lease " + id + ": its VM " + vm.id()
            + " is " + (vm.state().isFinal() ? vm.state() : "being deleted")
            + "; request the service again");
      }
      int ttl = ttlSeconds == 0 ? lease.ttlSeconds() : ttlSeconds;
      return leases.renew(tx, id, ttl, connections).orElseThrow(() -> new FarmException.Conflict(
          "cannot renew lease " + id + ": it ended while being renewed; request the service again"));
    });
  }

  /**
   * Ends the lease now. Releasing a lease that has ended already changes nothing, so a retried
   * release succeeds.
   *
   * @throws FarmException.NotFound when there is no such lease
   */
  public void release(UUID id) {
    // Group-committed: the only refusal is thrown before the write.
    commits.run(tx -> {
      leases.find(tx, id).orElseThrow(() -> notFound(id));
      leases.release(tx, id);
      return null;
    });
  }

  /** A lease on a VM that answers at once: it lasts its TTL from now. */
  LeaseRecord grant(Database.Tx tx, UUID vmId, String service, int ttlSeconds, RequestKey key)
      throws SQLException {
    return leases.grant(tx, vmId, service, ttlSeconds, Duration.ofSeconds(ttlSeconds), key);
  }

  /**
   * A lease on a VM that answers at once, and with it the request's operation (when
   * {@code operationId} is given) recorded done with the access; empty when a concurrent request
   * took the key first, and then nothing is written.
   */
  Optional<LeaseRecord> grantAnswered(Database.Tx tx, UUID vmId, String service, int ttlSeconds,
      RequestKey key, UUID operationId, String host, int port) throws SQLException {
    return leases.grantAnswered(tx, vmId, service, ttlSeconds, key, operationId, host, port);
  }

  /** A lease held while the caller waits for its VM: its first term covers the wait too. */
  LeaseRecord hold(Database.Tx tx, UUID vmId, String service, int ttlSeconds, Duration wait,
      RequestKey key) throws SQLException {
    return leases.grant(tx, vmId, service, ttlSeconds, wait.plusSeconds(ttlSeconds), key);
  }

  /**
   * The VM is ACTIVE and the caller is answered: the held lease now lasts its TTL from now. If it
   * ended meanwhile, the caller gets a fresh one on the same VM.
   */
  LeaseRecord startTerm(LeaseRecord held, RequestKey key) {
    return db.inTransaction(tx -> startTerm(tx, held, key));
  }

  /** {@link #startTerm(LeaseRecord, RequestKey)} inside the caller's transaction. */
  LeaseRecord startTerm(Database.Tx tx, LeaseRecord held, RequestKey key) throws SQLException {
    Optional<LeaseRecord> renewed = leases.renew(tx, held.id(), held.ttlSeconds());
    return renewed.isPresent() ? renewed.get()
        : grant(tx, held.vmId(), held.service(), held.ttlSeconds(), key);
  }

  /** The caller was not answered (the VM failed, the wait timed out): it holds nothing. */
  void cancel(LeaseRecord held) {
    db.inTransaction(tx -> {
      leases.release(tx, held.id());
      return null;
    });
  }

  /**
   * For a request taken over after a restart ({@code OperationResumer}): the lease its decision
   * held, its term started now as {@link #startTerm} does; a fresh lease when that one is gone.
   */
  public LeaseRecord startResumedTerm(UUID vmId, String service, RequestKey key, Instant decidedAt) {
    Optional<LeaseRecord> held =
        db.inTransaction(tx -> leases.heldByDecision(tx, vmId, service, key, decidedAt));
    return held.isPresent() ? startTerm(held.get(), key)
        : db.inTransaction(tx -> grant(tx, vmId, service, DEFAULT_TTL_SECONDS, key));
  }

  /** A request taken over after a restart failed: the lease its decision held is released. */
  public void cancelResumed(UUID vmId, String service, RequestKey key, Instant decidedAt) {
    db.inTransaction(tx -> leases.heldByDecision(tx, vmId, service, key, decidedAt))
        .ifPresent(this::cancel);
  }

  /**
   * For a repeated request: the live lease its first answer granted, or a fresh one when that
   * lease has ended. A lease still in its first term (the first request waits yet) starts its TTL.
   */
  LeaseRecord forRepeat(UUID vmId, String service, int ttlSeconds, RequestKey key) {
    return db.inTransaction(tx -> {
      Optional<LeaseRecord> held = leases.liveByKey(tx, vmId, key);
      if (held.isEmpty()) {
        // A fresh lease is a new hold on the VM: it counts against the cap like any other.
        if (!routes.leaseFitsLocked(tx, vmId)) {
          throw new FarmException.NoCapacity("the lease of idempotency key '"
              + key.idempotencyKey() + "' has ended and VM " + vmId + " holds max_leases_per_vm"
              + " live leases; request '" + service + "' with a new key");
        }
        return grant(tx, vmId, service, ttlSeconds, key);
      }
      LeaseRecord lease = held.get();
      boolean firstTerm = lease.expiresAt().isAfter(lease.renewedAt().plusSeconds(lease.ttlSeconds()));
      return firstTerm ? leases.renew(tx, lease.id(), lease.ttlSeconds()).orElse(lease) : lease;
    });
  }

  private static void refuseEnded(LeaseRecord lease, Instant now, String action) {
    if (lease.releasedAt() != null) {
      throw new FarmException.Conflict("cannot " + action + " lease " + lease.id()
          + ": it was " + (lease.endReason() == null ? "released" : "ended by the farm ("
              + lease.endReason() + ")") + " at " + lease.releasedAt()
          + "; request the service again");
    }
    if (!lease.expiresAt().isAfter(now)) {
      throw new FarmException.Conflict("cannot " + action + " lease " + lease.id()
          + ": it expired at " + lease.expiresAt() + "; request the service again");
    }
  }

  private static FarmException.NotFound notFound(UUID id) {
    return new FarmException.NotFound("no lease with id " + id);
  }
}
