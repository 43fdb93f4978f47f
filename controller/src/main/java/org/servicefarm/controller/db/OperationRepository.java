package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.servicefarm.controller.model.OperationPhase;
import org.servicefarm.controller.model.RequestKey;

/**
 * Multi-step actions and the idempotency keys of client requests ({@code operations}). A request
 * row also says where the request stands (phase, progress) and, once done, its answer; every
 * change bumps {@code version}, so whoever follows the row can tell newer from seen.
 */
public final class OperationRepository {

  /** A request already answered (or under way) for an idempotency key. */
  public record KeyedRequest(UUID operationId, String service, UUID vmId, boolean created) {}

  /** One request as a watcher sees it. */
  public record OperationRow(
      UUID id,
      String service,
      UUID vmId,
      boolean created,
      OperationPhase phase,
      int progressPercent,
      String message,
      long version,
      String resultHost,
      Integer resultPort,
      String error,
      Integer errorCode,
      UUID leaseId,
      java.time.Instant leaseExpiresAt,
      int leaseTtlSeconds,
      java.time.Instant createdAt,
      java.time.Instant updatedAt,
      String caller) {}

  // The answer's lease as it is now (renewals move its expiry), read beside the row.
  private static final String ROW_COLUMNS =
      "id, service, vm_id, created, phase, progress_percent, phase_message, version, result_host,"
          + " result_port, error, error_code, lease_id, created_at, updated_at, caller,"
          + " (SELECT l.expires_at FROM leases l WHERE l.id = lease_id) AS lease_expires_at,"
          + " (SELECT l.ttl_seconds FROM leases l WHERE l.id = lease_id) AS lease_ttl_seconds";

  private static final Database.RowMapper<OperationRow> ROW =
      rs ->
          new OperationRow(
              Rows.uuid(rs, "id"),
              rs.getString("service"),
              Rows.uuid(rs, "vm_id"),
              rs.getBoolean("created"),
              OperationPhase.valueOf(rs.getString("phase")),
              rs.getInt("progress_percent"),
              rs.getString("phase_message"),
              rs.getLong("version"),
              rs.getString("result_host"),
              Rows.nullableInt(rs, "result_port"),
              rs.getString("error"),
              Rows.nullableInt(rs, "error_code"),
              Rows.uuid(rs, "lease_id"),
              Rows.instant(rs, "lease_expires_at"),
              rs.getInt("lease_ttl_seconds"),
              Rows.instant(rs, "created_at"),
              Rows.instant(rs, "updated_at"),
              rs.getString("caller"));

  /** The request this caller made earlier with the key (another caller's never). */
  public Optional<KeyedRequest> findByKey(Database.Tx tx, RequestKey key) throws SQLException {
    return tx.queryOne(
        "SELECT id, service, vm_id, created FROM operations WHERE caller = ? AND request_key = ?",
        rs -> new KeyedRequest(Rows.uuid(rs, "id"), rs.getString("service"), Rows.uuid(rs, "vm_id"),
            rs.getBoolean("created")),
        key.caller(),
        key.idempotencyKey());
  }

  /**
   * Records a request with its caller (under its key, when it has one); returns empty when
   * recorded, or the request of the same caller that already holds the key (a concurrent
   * duplicate won the race).
   */
  public Optional<KeyedRequest> recordRequest(
      Database.Tx tx, UUID id, RequestKey key, String service, UUID vmId, boolean created,
      OperationPhase phase, int progressPercent)
      throws SQLException {
    int inserted =
        tx.update(
            "INSERT INTO operations (id, kind, service, vm_id, caller, request_key, state, created,"
                + " phase, progress_percent) VALUES (?, 'REQUEST', ?, ?, ?, ?, 'RUNNING', ?, ?, ?)"
                + " ON CONFLICT (caller, request_key) DO NOTHING",
            id,
            service,
            vmId,
            key.caller(),
            key.idempotencyKey(),
            created,
            phase.name(),
            progressPercent);
    return inserted == 1 || !key.keyed() ? Optional.empty() : findByKey(tx, key);
  }

  /** Records a request under its key, as {@link #recordRequest(Database.Tx, UUID, RequestKey,
   * String, UUID, boolean, OperationPhase, int)} does, starting QUEUED. */
  public Optional<KeyedRequest> recordRequest(
      Database.Tx tx, RequestKey key, String service, UUID vmId, boolean created)
      throws SQLException {
    return recordRequest(tx, UUID.randomUUID(), key, service, vmId, created, OperationPhase.QUEUED,
        0);
  }

  /** A request still under way, as a controller that takes it over after a restart needs it. */
  public record RunningRequest(UUID id, String service, UUID vmId, boolean created, RequestKey key,
      java.time.Instant decidedAt) {}

  /**
   * Requests still RUNNING that were decided before {@code before} (the database's clock), oldest
   * first. {@code decidedAt} is the deciding transaction's time, which its held lease shares.
   */
  /** The database's clock, which the operations' own times are read from. */
  public java.time.Instant databaseNow(Database db) {
    return db.queryOne("SELECT now() AS now", rs -> rs.getTimestamp("now").toInstant())
        .orElseThrow();
  }

  public List<RunningRequest> runningRequests(Database db, java.time.Instant before) {
    return db.query(
        "SELECT id, service, vm_id, created, caller, request_key, created_at FROM operations"
            + " WHERE kind = 'REQUEST' AND state = 'RUNNING' AND vm_id IS NOT NULL"
            + " AND created_at < ? ORDER BY created_at",
        rs -> new RunningRequest(Rows.uuid(rs, "id"), rs.getString("service"),
            Rows.uuid(rs, "vm_id"), rs.getBoolean("created"), requestKey(rs),
            Rows.instant(rs, "created_at")),
        before);
  }


  public Optional<OperationRow> find(Database db, UUID id) {
    return db.queryOne("SELECT " + ROW_COLUMNS + " FROM operations WHERE id = ?", ROW, id);
  }

  /**
   * Moves every running request of the VM to the phase; progress never goes back. Only requests
   * in one of {@code from} move, so a late report cannot undo a later step.
   */
  public List<OperationRow> advance(Database db, UUID vmId, List<OperationPhase> from,
      OperationPhase phase, int progressPercent, String message) {
    return db.query(
        "UPDATE operations SET phase = ?, progress_percent = GREATEST(progress_percent, ?),"
            + " phase_message = ?, version = version + 1, updated_at = now()"
            + " WHERE vm_id = ? AND kind = 'REQUEST' AND state = 'RUNNING' AND phase = ANY(?)"
            + " RETURNING " + ROW_COLUMNS,
        ROW,
        phase.name(),
        progressPercent,
        message,
        vmId,
        from.stream().map(Enum::name).toArray(String[]::new));
  }

  /** Finishes a running request with its answer; empty when it had finished already. */
  public Optional<OperationRow> succeed(Database db, UUID id, String host, int port,
      UUID leaseId) {
    return db.inTransaction(tx -> succeed(tx, id, host, port, leaseId));
  }

  /** {@link #succeed(Database, UUID, String, int, UUID)} inside the caller's transaction. */
  public Optional<OperationRow> succeed(Database.Tx tx, UUID id, String host, int port,
      UUID leaseId) throws java.sql.SQLException {
    return tx.queryOne(
        "UPDATE operations SET state = 'SUCCEEDED', phase = 'READY', progress_percent = 100,"
            + " phase_message = NULL, result_host = ?, result_port = ?, lease_id = ?,"
            + " version = version + 1, updated_at = now() WHERE id = ? AND state = 'RUNNING'"
            + " RETURNING " + ROW_COLUMNS,
        ROW,
        host,
        port,
        leaseId,
        id);
  }

  /** Fails a running request with the status it would have answered; empty when finished. */
  public Optional<OperationRow> fail(Database db, UUID id, String error, int errorCode) {
    return db.queryOne(
        "UPDATE operations SET state = 'FAILED', phase = 'FAILED', error = ?, error_code = ?,"
            + " version = version + 1, updated_at = now() WHERE id = ? AND state = 'RUNNING'"
            + " RETURNING " + ROW_COLUMNS,
        ROW,
        error,
        errorCode,
        id);
  }

  /** A row's caller and key; rows written before callers were recorded belong to nobody. */
  private static RequestKey requestKey(java.sql.ResultSet rs) throws SQLException {
    String caller = rs.getString("caller");
    return new RequestKey(caller == null ? "unrecorded" : caller, rs.getString("request_key"));
  }

}
