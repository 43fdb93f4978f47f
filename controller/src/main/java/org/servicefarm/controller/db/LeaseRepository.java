package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.servicefarm.controller.model.LeaseRecord;
import org.servicefarm.controller.model.RequestKey;

/**
 * Leases ({@code leases}): who holds which VM until when. A lease is live while it is unreleased
 * and unexpired. Granting writes the lease row only, never the VM's row: a VM's last use is
 * derived from its leases, so concurrent grants on one VM do not queue on its row lock.
 */
public final class LeaseRepository {
  private static final String COLUMNS =
      "id, vm_id, service, ttl_seconds, created_at, renewed_at, expires_at, released_at,"
          + " end_reason";

  private static final Database.RowMapper<LeaseRecord> MAPPER =
      rs ->
          new LeaseRecord(
              Rows.uuid(rs, "id"),
              Rows.uuid(rs, "vm_id"),
              rs.getString("service"),
              rs.getInt("ttl_seconds"),
              Rows.instant(rs, "created_at"),
              Rows.instant(rs, "renewed_at"),
              Rows.instant(rs, "expires_at"),
              Rows.instant(rs, "released_at"),
              rs.getString("end_reason"));

  /** How a VM's leases stand: live ones now, its last use, and since when it has been idle. */
  public record Usage(int liveLeases, Instant lastUsedAt, Instant idleSince) {}

  /**
   * A new lease on the VM, renewable by {@code ttlSeconds}, that first lasts {@code firstTerm}
   * (longer than the TTL while the VM is still starting, so the hold covers the wait).
   */
  public LeaseRecord grant(Database.Tx tx, UUID vmId, String service, int ttlSeconds,
      Duration firstTerm, RequestKey key) throws SQLException {
    return tx.query(
            "INSERT INTO leases (id, vm_id, service, ttl_seconds, caller, request_key, expires_at)"
                + " VALUES (?, ?, ?, ?, ?, ?, now() + make_interval(secs => ?)) RETURNING " + COLUMNS,
            MAPPER,
            UUID.randomUUID(),
            vmId,
            service,
            ttlSeconds,
            key == null ? null : key.caller(),
            key == null ? null : key.idempotencyKey(),
            seconds(firstTerm))
        .get(0);
  }

  /**
   * The warm path's only write, one statement: a lease lasting {@code ttlSeconds} from now and,
   * when {@code operationId} is given, the request's operation, inserted already done (READY,
   * with the access and the lease) under the request's key. Empty when another request holds the
   * key (it committed first; an insert that meets one in flight waits for it): then nothing is
   * written and the caller answers what that request chose.
   */
  public Optional<LeaseRecord> grantAnswered(Database.Tx tx, UUID vmId, String service,
      int ttlSeconds, RequestKey key, UUID operationId, String host, int port)
      throws SQLException {
    UUID leaseId = UUID.randomUUID();
    boolean recorded = operationId != null;
    // The operation names the lease inserted beside it: foreign keys are checked once the whole
    // statement has run.
    return tx.queryOne(
        "WITH op AS (INSERT INTO operations (id, kind, service, vm_id, caller, request_key, state,"
            + "   created, phase, progress_percent, result_host, result_port, lease_id)"
            + "   SELECT ?::uuid, 'REQUEST', ?, ?, ?::text, ?::text, 'SUCCEEDED', false, 'READY', 100,"
            + "   ?, ?, ? WHERE ?"
            + "   ON CONFLICT (caller, request_key) DO NOTHING RETURNING id)"
            + " INSERT INTO leases (id, vm_id, service, ttl_seconds, caller, request_key, expires_at)"
            + " SELECT ?, ?, ?, ?, ?::text, ?::text, now() + make_interval(secs => ?)"
            + " WHERE NOT ? OR EXISTS (SELECT 1 FROM op) RETURNING " + COLUMNS,
        MAPPER,
        operationId, service, vmId, key.caller(), key.idempotencyKey(), host, port, leaseId,
        recorded, leaseId, vmId, service, ttlSeconds, key.caller(), key.idempotencyKey(),
        (double) ttlSeconds, recorded);
  }

  public Optional<LeaseRecord> find(Database.Tx tx, UUID id) throws SQLException {
    return tx.queryOne("SELECT " + COLUMNS + " FROM leases WHERE id = ?", MAPPER, id);
  }

  /** The newest live lease a request of this caller with this key holds on the VM. */
  public Optional<LeaseRecord> liveByKey(Database.Tx tx, UUID vmId, RequestKey key)
      throws SQLException {
    return tx.query(
            "SELECT " + COLUMNS + " FROM leases WHERE caller = ? AND request_key = ? AND vm_id = ?"
                + " AND released_at IS NULL AND expires_at > now() ORDER BY created_at DESC LIMIT 1",
            MAPPER,
            key.caller(),
            key.idempotencyKey(),
            vmId)
        .stream()
        .findFirst();
  }

  /**
   * The lease a request's decision held on the VM, live or not. The decision inserts the lease and
   * the request's operation in one transaction, so the lease was created at the operation's
   * {@code created_at} (now() is the transaction's start).
   */
  public Optional<LeaseRecord> heldByDecision(Database.Tx tx, UUID vmId, String service,
      RequestKey key, Instant decidedAt) throws SQLException {
    return tx.query(
            "SELECT " + COLUMNS + " FROM leases WHERE vm_id = ? AND service = ? AND created_at = ?"
                + " AND request_key IS NOT DISTINCT FROM ? LIMIT 1",
            MAPPER,
            vmId,
            service,
            decidedAt,
            key.idempotencyKey())
        .stream()
        .findFirst();
  }

  /**
   * Extends a live lease to {@code ttlSeconds} from now, which becomes its TTL; empty when the
   * lease is released, expired or unknown.
   */
  public Optional<LeaseRecord> renew(Database.Tx tx, UUID id, int ttlSeconds) throws SQLException {
    return renew(tx, id, ttlSeconds, 0);
  }

  /**
   * {@link #renew(Database.Tx, UUID, int)}, the lease from now standing for {@code connections}
   * users of its VM (its weight against max_leases_per_vm); 0 leaves the weight as it is.
   */
  public Optional<LeaseRecord> renew(Database.Tx tx, UUID id, int ttlSeconds, int connections)
      throws SQLException {
    return tx.queryOne(
        "UPDATE leases SET ttl_seconds = ?, renewed_at = now(),"
            + " expires_at = now() + make_interval(secs => ?),"
            + " connections = CASE WHEN ? > 0 THEN ? ELSE connections END"
            + " WHERE id = ? AND released_at IS NULL AND expires_at > now() RETURNING " + COLUMNS,
        MAPPER,
        ttlSeconds,
        (double) ttlSeconds,
        connections,
        connections,
        id);
  }

  /** Ends a live lease now; a lease that already ended is left as it is. */
  public void release(Database.Tx tx, UUID id) throws SQLException {
    tx.update(
        "UPDATE leases SET released_at = now()"
            + " WHERE id = ? AND released_at IS NULL AND expires_at > now()",
        id);
  }

  /** The VM's newest {@code limit} leases, live and ended, newest first (the dashboard's VM page). */
  public List<LeaseRecord> newestForVm(Database db, UUID vmId, int limit) {
    return db.query("SELECT " + COLUMNS + " FROM leases WHERE vm_id = ?"
        + " ORDER BY created_at DESC, id LIMIT ?", MAPPER, vmId, limit);
  }

  /** How many live leases the VM holds now. */
  public int liveCount(Database.Tx tx, UUID vmId) throws SQLException {
    return tx.queryOne("SELECT count(*) FROM leases WHERE vm_id = ? AND released_at IS NULL"
        + " AND expires_at > now()", rs -> rs.getInt(1), vmId).orElse(0);
  }

  /** Ends every live lease of the VM now, recording why; returns how many ended. */
  public int endLive(Database.Tx tx, UUID vmId, String reason) throws SQLException {
    return tx.update("UPDATE leases SET released_at = now(), end_reason = ?"
        + " WHERE vm_id = ? AND released_at IS NULL AND expires_at > now()", reason, vmId);
  }

  /**
   * The usage of each given VM in one query. Last use is the latest grant, renewal or release
   * (or what the VM row keeps of older ones); the VM is idle since its last lease ended.
   */
  public Map<UUID, Usage> usage(Database.Tx tx, List<UUID> vmIds) throws SQLException {
    Map<UUID, Usage> usage = new HashMap<>();
    if (vmIds.isEmpty()) {
      return usage;
    }
    for (Object[] row :
        tx.query(
            "SELECT v.id,"
                + " count(l.id) FILTER (WHERE l.released_at IS NULL AND l.expires_at > now()) AS live,"
                + " greatest(v.last_used_at, max(COALESCE(l.released_at, l.renewed_at))) AS last_used,"
                + " greatest(v.last_used_at, max(COALESCE(l.released_at, l.expires_at))) AS idle_since"
                + " FROM vms v LEFT JOIN leases l ON l.vm_id = v.id WHERE v.id = ANY(?) GROUP BY v.id",
            rs -> new Object[] {Rows.uuid(rs, "id"), new Usage(rs.getInt("live"),
                Rows.instant(rs, "last_used"), Rows.instant(rs, "idle_since"))},
            (Object) uuidArray(tx, vmIds))) {
      usage.put((UUID) row[0], (Usage) row[1]);
    }
    return usage;
  }

  /**
   * Removes leases that ended more than {@code age} ago, keeping their last use in the VM row so
   * last_used_at does not move back. Bounds the rows the usage query reads per VM.
   */
  public int pruneEnded(Database.Tx tx, Duration age) throws SQLException {
    return tx.query(
            "WITH ended AS (DELETE FROM leases"
                + "   WHERE COALESCE(released_at, expires_at) < now() - make_interval(secs => ?)"
                + "   RETURNING vm_id, COALESCE(released_at, renewed_at) AS used),"
                + " folded AS (UPDATE vms v SET last_used_at = greatest(v.last_used_at, e.used)"
                + "   FROM (SELECT vm_id, max(used) AS used FROM ended GROUP BY vm_id) e"
                + "   WHERE v.id = e.vm_id RETURNING v.id)"
                + " SELECT count(*) FROM ended",
            rs -> rs.getInt(1),
            seconds(age))
        .get(0);
  }

  /** The database's clock, which every lease time is written with. */
  public Instant now(Database.Tx tx) throws SQLException {
    return tx.query("SELECT now()", rs -> Rows.instant(rs, "now")).get(0);
  }

  private static java.sql.Array uuidArray(Database.Tx tx, List<UUID> ids) throws SQLException {
    return tx.connection().createArrayOf("uuid", ids.toArray());
  }

  private static double seconds(Duration d) {
    return d.toMillis() / 1000.0;
  }
}
