package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.util.Optional;
import java.util.UUID;

/** Multi-step actions and the idempotency keys of client requests ({@code operations}). */
public final class OperationRepository {

  /** A request already answered (or under way) for an idempotency key. */
  public record KeyedRequest(UUID operationId, String service, UUID vmId, boolean created) {}

  public Optional<KeyedRequest> findByKey(Database.Tx tx, String key) throws SQLException {
    return tx.queryOne(
        "SELECT id, service, vm_id, created FROM operations WHERE idempotency_key = ?",
        rs -> new KeyedRequest(Rows.uuid(rs, "id"), rs.getString("service"), Rows.uuid(rs, "vm_id"),
            rs.getBoolean("created")),
        key);
  }

  /**
   * Records a request under its key; returns empty when the key is new, or the request that
   * already holds the key (a concurrent duplicate won the race).
   */
  public Optional<KeyedRequest> recordRequest(
      Database.Tx tx, String key, String service, UUID vmId, boolean created) throws SQLException {
    int inserted =
        tx.update(
            "INSERT INTO operations (id, kind, service, vm_id, idempotency_key, state, created)"
                + " VALUES (?, 'REQUEST', ?, ?, ?, 'RUNNING', ?) ON CONFLICT (idempotency_key) DO NOTHING",
            UUID.randomUUID(),
            service,
            vmId,
            key,
            created);
    return inserted == 1 ? Optional.empty() : findByKey(tx, key);
  }

  public void finish(Database db, String key, String error) {
    db.update(
        "UPDATE operations SET state = ?, error = ?, updated_at = now()"
            + " WHERE idempotency_key = ? AND state = 'RUNNING'",
        error == null ? "SUCCEEDED" : "FAILED",
        error,
        key);
  }
}
