package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.servicefarm.controller.model.ApiTokenRecord;

/** Bearer tokens ({@code api_tokens}): their names, roles and hashes, live and revoked. */
public final class TokenRepository {
  private static final String COLUMNS = "id, name, role, token_hash, created_at, revoked_at, project";

  private static final Database.RowMapper<ApiTokenRecord> MAPPER =
      rs ->
          new ApiTokenRecord(
              Rows.uuid(rs, "id"),
              rs.getString("name"),
              rs.getString("role"),
              rs.getString("token_hash"),
              Rows.instant(rs, "created_at"),
              Rows.instant(rs, "revoked_at"),
              rs.getString("project"));

  /** Records a token by its hash; a live token of the same name violates a unique index. */
  public ApiTokenRecord insert(Database.Tx tx, String name, String role, String tokenHash)
      throws SQLException {
    return insert(tx, name, role, tokenHash, null);
  }

  /** As {@link #insert(Database.Tx, String, String, String)}, bound to a project (null: none). */
  public ApiTokenRecord insert(Database.Tx tx, String name, String role, String tokenHash,
      String project) throws SQLException {
    return tx.queryOne(
            "INSERT INTO api_tokens (id, name, role, token_hash, project) VALUES (?, ?, ?, ?, ?)"
                + " RETURNING " + COLUMNS,
            MAPPER,
            UUID.randomUUID(),
            name,
            role,
            tokenHash,
            project)
        .orElseThrow();
  }

  /** Every token, live and revoked, oldest first. */
  public List<ApiTokenRecord> all(Database.Tx tx) throws SQLException {
    return tx.query("SELECT " + COLUMNS + " FROM api_tokens ORDER BY created_at, id", MAPPER);
  }

  /** The live token of that name, if any. */
  public Optional<ApiTokenRecord> liveByName(Database.Tx tx, String name) throws SQLException {
    return tx.queryOne(
        "SELECT " + COLUMNS + " FROM api_tokens WHERE name = ? AND revoked_at IS NULL",
        MAPPER,
        name);
  }

  public Optional<ApiTokenRecord> byId(Database.Tx tx, UUID id) throws SQLException {
    return tx.queryOne("SELECT " + COLUMNS + " FROM api_tokens WHERE id = ?", MAPPER, id);
  }

  /** Revokes a live token; false when it was revoked already. */
  public boolean revoke(Database.Tx tx, UUID id) throws SQLException {
    return tx.update(
            "UPDATE api_tokens SET revoked_at = now() WHERE id = ? AND revoked_at IS NULL", id)
        == 1;
  }

  /** True when some farm-wide admin token is live. */
  public boolean anyLiveAdmin(Database.Tx tx) throws SQLException {
    return tx.queryOne(
            "SELECT 1 FROM api_tokens WHERE role = 'admin' AND revoked_at IS NULL"
                + " AND project IS NULL LIMIT 1",
            rs -> rs.getInt(1))
        .isPresent();
  }
}
