package org.servicefarm.controller.db;

import org.servicefarm.controller.model.VmState;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/** The append-only history of transitions ({@code events}). */
public final class EventRepository {

  private static final String SELECT =
      "SELECT id, at, kind, vm_id, host_id, service, from_state, to_state, cause FROM events";

  private static final Database.RowMapper<Event> MAPPER =
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
              rs.getString("cause"));

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
    // A VM's event names the VM's definition unless the caller named a service, so events can
    // be followed by service (EventRepository#page, the event feed).
    tx.update(
        "INSERT INTO events (kind, vm_id, host_id, service, from_state, to_state, cause)"
            + " VALUES (?, ?, ?, COALESCE(?::text, (SELECT definition FROM vms WHERE id = ?)),"
            + " ?, ?, ?)",
        kind,
        vmId,
        hostId,
        service,
        vmId,
        from == null ? null : from.toString(),
        to == null ? null : to.toString(),
        cause);
  }

  /**
   * An INSERT of one VM_STATE event for each VM row {@code vms} (a common table expression in the
   * caller's statement) returns, so a VM's change and its event go in one round trip. Its
   * parameters, in order: host id, from state, to state, cause.
   */
  static String vmStateOf(String vms) {
    return "INSERT INTO events (kind, vm_id, host_id, service, from_state, to_state, cause)"
        + " SELECT 'VM_STATE', id, ?, definition, ?, ?, ? FROM " + vms;
  }

  /** Whether the VM ever served (reached ACTIVE): its disk then holds what it wrote. */
  public boolean everActive(Database.Tx tx, UUID vmId) throws java.sql.SQLException {
    return tx.queryOne("SELECT EXISTS (SELECT 1 FROM events WHERE vm_id = ? AND kind = 'VM_STATE'"
        + " AND to_state = 'ACTIVE')", rs -> rs.getBoolean(1), vmId).orElse(false);
  }

  /** The state the VM left when it last entered {@code entered} (empty when it never did). */
  public java.util.Optional<String> stateBefore(Database.Tx tx, UUID vmId, Object entered)
      throws java.sql.SQLException {
    return tx.queryOne("SELECT from_state FROM events WHERE vm_id = ? AND kind = 'VM_STATE'"
        + " AND to_state = ? ORDER BY id DESC LIMIT 1", rs -> rs.getString(1), vmId,
        entered.toString());
  }

  /** When the VM's newest archive was made, and how long ago (by the database's clock). */
  public record ArchiveTime(java.time.Instant at, java.time.Duration age) {}

  /** When the VM was last archived: its newest archive holds its disk as it was then. */
  public java.util.Optional<ArchiveTime> lastArchived(Database.Tx tx, UUID vmId)
      throws java.sql.SQLException {
    return tx.queryOne("SELECT at, extract(epoch FROM now() - at) FROM events WHERE vm_id = ?"
        + " AND kind = 'VM_STATE' AND to_state = 'ARCHIVED' ORDER BY id DESC LIMIT 1",
        rs -> new ArchiveTime(rs.getTimestamp(1).toInstant(),
            java.time.Duration.ofMillis(Math.round(rs.getDouble(2) * 1000))), vmId);
  }

  public List<Event> forVm(Database db, UUID vmId) {
    return db.query(SELECT + " WHERE vm_id = ? ORDER BY id", MAPPER, vmId);
  }

  /**
   * Events after {@code afterId}, oldest first, that match every filter given (null: any). The
   * service filter matches the events of the definition that offers the service, so a bundled
   * service's name finds its VM's events too.
   */
  public List<Event> page(
      Database db, UUID vmId, String service, String hostId, long afterId, long upToId, int limit) {
    return db.query(
        SELECT
            + " WHERE id > ? AND id <= ?"
            + " AND (?::uuid IS NULL OR vm_id = ?::uuid)"
            + " AND (?::text IS NULL OR host_id = ?::text)"
            + " AND (?::text IS NULL OR service = ?::text"
            + "   OR service = (SELECT definition FROM services WHERE name = ?::text))"
            + " ORDER BY id LIMIT ?",
        MAPPER,
        afterId,
        upToId,
        vmId,
        vmId,
        hostId,
        hostId,
        service,
        service,
        service,
        limit);
  }

  /** Every event after {@code afterId}, oldest first: what the event feed polls. */
  public List<Event> after(Database db, long afterId, int limit) {
    return db.query(SELECT + " WHERE id > ? ORDER BY id LIMIT ?", MAPPER, afterId, limit);
  }

  /** The largest event id so far (0 when there are none). */
  public long newestId(Database db) {
    return db.inTransaction(this::newestId);
  }

  public long newestId(Database.Tx tx) throws SQLException {
    return tx.queryOne("SELECT COALESCE(max(id), 0) FROM events", rs -> rs.getLong(1))
        .orElse(0L);
  }

  /** An event's id and the host it names (null for none). */
  public record HostMention(long id, String hostId) {}

  /** The events after {@code afterId}, each with the host it names: which hosts saw change. */
  public List<HostMention> hostMentionsAfter(Database.Tx tx, long afterId) throws SQLException {
    return tx.query("SELECT id, host_id FROM events WHERE id > ?",
        rs -> new HostMention(rs.getLong(1), rs.getString(2)), afterId);
  }

  /** The state the VM was in when it last became UNKNOWN (null when it never did). */
  public VmState stateBeforeUnknown(Database.Tx tx, UUID vmId) throws SQLException {
    return tx.queryOne("SELECT from_state FROM events WHERE vm_id = ? AND kind = 'VM_STATE'"
            + " AND to_state = 'UNKNOWN' ORDER BY id DESC LIMIT 1",
            rs -> VmState.valueOf(rs.getString(1)), vmId)
        .orElse(null);
  }

  /** The newest {@code limit} events, newest first. */
  public List<Event> latest(Database db, int limit) {
    return db.query(SELECT + " ORDER BY id DESC LIMIT ?", MAPPER, limit);
  }
}
