package org.servicefarm.controller.db;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * The farm's history past its retention: DELETED VMs' rows and old events, removed in bounded
 * batches (each one short transaction), down the partial indexes V16 added for it.
 */
public final class HistoryRepository {

  /**
   * Removes up to {@code batch} VMs DELETED before {@code before}, with their operations (which
   * reference them without cascade); their leases and offers go by cascade. Their events stay
   * until the events' own retention. Returns how many VMs went.
   */
  public int deleteDeletedVms(Database db, Instant before, int batch) {
    return db.inTransaction(tx -> {
      List<UUID> doomed = tx.query("SELECT id FROM vms WHERE state = 'DELETED' AND updated_at < ?"
          + " ORDER BY updated_at LIMIT ? FOR UPDATE SKIP LOCKED", rs -> Rows.uuid(rs, "id"),
          before, batch);
      if (doomed.isEmpty()) {
        return 0;
      }
      java.sql.Array ids = tx.connection().createArrayOf("uuid", doomed.toArray());
      tx.update("DELETE FROM operations WHERE vm_id = ANY(?)", ids);
      return tx.update("DELETE FROM vms WHERE id = ANY(?) AND state = 'DELETED'", ids);
    });
  }

  /** Removes up to {@code batch} events older than {@code before}; returns how many went. */
  public int deleteEvents(Database db, Instant before, int batch) {
    return db.update("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ?"
        + " ORDER BY at LIMIT ?)", before, batch);
  }
}
