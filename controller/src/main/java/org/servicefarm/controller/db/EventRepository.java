package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/** The append-only history of transitions ({@code events}). */
public final class EventRepository {

  /** One recorded transition. */
  public record Event(
      long id,
      Instant at,
      String kind,
      UUID vmId,
      String hostId,
      String service,
      String fromState,
      String toState,
      String cause) {}

  public void vmState(Database.Tx tx, UUID vmId, String hostId, Object from, Object to, String cause)
      throws SQLException {
    append(tx, "VM_STATE", vmId, hostId, null, from, to, cause);
  }

  public void append(
      Database.Tx tx,
      String kind,
      UUID vmId,
      String hostId,
      String service,
      Object from,
      Object to,
      String cause)
      throws SQLException {
    tx.update(
        "INSERT INTO events (kind, vm_id, host_id, service, from_state, to_state, cause)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?)",
        kind,
        vmId,
        hostId,
        service,
        from == null ? null : from.toString(),
        to == null ? null : to.toString(),
        cause);
  }

  public List<Event> forVm(Database db, UUID vmId) {
    return db.query(
        "SELECT id, at, kind, vm_id, host_id, service, from_state, to_state, cause"
            + " FROM events WHERE vm_id = ? ORDER BY id",
        rs ->
            new Event(
                rs.getLong("id"),
                Rows.instant(rs, "at"),
                rs.getString("kind"),
                Rows.uuid(rs, "vm_id"),
                rs.getString("host_id"),
                rs.getString("service"),
                rs.getString("from_state"),
                rs.getString("to_state"),
                rs.getString("cause")),
        vmId);
  }
}
