package org.servicefarm.controller.db;

import java.time.Instant;
import java.util.List;
import org.servicefarm.controller.model.AuditRecord;

/** The audit trail ({@code audit}): appended to by every controller, read by admins. */
public final class AuditRepository {
  private static final String SELECT = "SELECT id, at, caller_kind, token_id, caller, peer, method,"
      + " target, outcome, detail, call_count FROM audit";
  private static final Database.RowMapper<AuditRecord> MAPPER = rs -> new AuditRecord(
      rs.getLong("id"), Rows.instant(rs, "at"), rs.getString("caller_kind"),
      Rows.uuid(rs, "token_id"), rs.getString("caller"), rs.getString("peer"),
      rs.getString("method"), rs.getString("target"), rs.getString("outcome"),
      rs.getString("detail"), rs.getInt("call_count"));
  private static final String FILTERS = " AND (?::text IS NULL OR caller = ?::text)"
      + " AND (?::text IS NULL OR target = ?::text)";

  public void append(Database db, AuditRecord r) {
    db.update("INSERT INTO audit (at, caller_kind, token_id, caller, peer, method, target, outcome,"
            + " detail, call_count) VALUES (COALESCE(?::timestamptz, now()), ?, ?, ?, ?, ?, ?, ?,"
            + " ?, ?)",
        r.at(), r.callerKind(), r.tokenId(), r.caller(), r.peer(), r.method(), r.target(),
        r.outcome(), r.detail(), r.callCount());
  }

  /**
   * Records matching both filters (null: any): after {@code afterId} oldest first, or with
   * {@code afterId} 0 the newest {@code limit}, still oldest first.
   */
  public List<AuditRecord> page(Database db, String caller, String target, long afterId, int limit) {
    if (afterId > 0) {
      return db.query(SELECT + " WHERE id > ?" + FILTERS + " ORDER BY id LIMIT ?", MAPPER,
          afterId, caller, caller, target, target, limit);
    }
    return db.query("SELECT * FROM (" + SELECT + " WHERE true" + FILTERS
            + " ORDER BY id DESC LIMIT ?) newest ORDER BY id", MAPPER,
        caller, caller, target, target, limit);
  }

  /** Deletes up to {@code batch} records older than {@code before}; returns how many. */
  public int deleteOlderThan(Database db, Instant before, int batch) {
    return db.update("DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ?"
        + " ORDER BY id LIMIT ?)", before, batch);
  }
}
