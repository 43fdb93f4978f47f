package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * What reclaim reads and writes: definitions' priorities, the VMs that might make room on hosts,
 * the VMs already leaving them, and which VM the room of an archived VM was made for.
 */
public final class ReclaimRepository {
  /** A definition's priority and whether a higher-priority request may preempt its VMs. */
  public record Rank(int priority, boolean preemptible) {
    public static final Rank DEFAULT = new Rank(0, false);
  }

  /** A VM that might make room on its host: ACTIVE or SLEEPING and wanted so. */
  public record Resident(UUID vmId, String hostId, String project, String definition,
      int priority, boolean preemptible, int liveLeases, java.time.Instant lastUsed, int vcpus,
      long memoryMb) {}

  // A VM holds resources on its host until it is archived, deleted or failed (HostRepository).
  private static final String HOLDS = "v.state NOT IN ('ARCHIVED', 'DELETED', 'FAILED')";
  // Leaving: wanted archived or deleted, not yet gone. Their room is promised already.
  private static final String LEAVING = HOLDS + " AND v.desired_state IN ('ARCHIVED', 'DELETED')";

  public void setRank(Database.Tx tx, String definition, Rank rank) throws SQLException {
    tx.update("UPDATE service_definitions SET priority = ?, preemptible = ? WHERE name = ?",
        rank.priority(), rank.preemptible(), definition);
  }

  /** The definition's rank; the default for a definition not (or no longer) in the catalog. */
  public Rank rank(Database.Tx tx, String definition) throws SQLException {
    return tx.queryOne("SELECT priority, preemptible FROM service_definitions WHERE name = ?",
        rs -> new Rank(rs.getInt(1), rs.getBoolean(2)), definition).orElse(Rank.DEFAULT);
  }

  /** Every definition's rank, by name. */
  public Map<String, Rank> ranks(Database db) {
    Map<String, Rank> out = new HashMap<>();
    db.query("SELECT name, priority, preemptible FROM service_definitions",
            rs -> Map.entry(rs.getString(1), new Rank(rs.getInt(2), rs.getBoolean(3))))
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  /**
   * The VMs that might make room on these hosts: ACTIVE or SLEEPING and wanted so, not moving
   * off a draining host, not running in a warm pool (a definition with min_active), with their
   * definition's rank, live leases and last use.
   */
  public List<Resident> residents(Database.Tx tx, Collection<String> hostIds)
      throws SQLException {
    if (hostIds.isEmpty()) {
      return List.of();
    }
    return tx.query(
        "SELECT v.id, v.host_id, v.project, v.definition, v.vcpus, v.memory_mb,"
            + " COALESCE(d.priority, 0) AS priority, COALESCE(d.preemptible, false) AS preemptible,"
            + " (SELECT count(*) FROM leases l WHERE l.vm_id = v.id AND l.released_at IS NULL"
            + "   AND l.expires_at > now()) AS live,"
            + " greatest(v.last_used_at, v.created_at, (SELECT max(COALESCE(l.released_at,"
            + "   l.renewed_at)) FROM leases l WHERE l.vm_id = v.id)) AS last_used"
            + " FROM vms v LEFT JOIN service_definitions d ON d.name = v.definition"
            + " WHERE v.host_id = ANY(?) AND v.state IN ('ACTIVE', 'SLEEPING')"
            + " AND v.desired_state::text = v.state::text AND v.return_to IS NULL"
            // A warm pool's running VMs are kept on purpose: taking one would have the pool
            // wake or build another, which could take room back the same way.
            + " AND NOT (v.state = 'ACTIVE' AND COALESCE(d.min_active, 0) > 0)",
        rs -> new Resident(Rows.uuid(rs, "id"), rs.getString("host_id"),
            rs.getString("project"), rs.getString("definition"), rs.getInt("priority"),
            rs.getBoolean("preemptible"), rs.getInt("live"), Rows.instant(rs, "last_used"),
            rs.getInt("vcpus"), rs.getLong("memory_mb")),
        (Object) hostIds.toArray(String[]::new));
  }

  /** vCPUs and MB of memory ({vcpus, memoryMb}) of the VMs leaving each host. */
  public Map<String, long[]> leaving(Database.Tx tx, Collection<String> hostIds)
      throws SQLException {
    Map<String, long[]> out = new HashMap<>();
    if (hostIds.isEmpty()) {
      return out;
    }
    tx.query("SELECT v.host_id, sum(v.vcpus), sum(v.memory_mb) FROM vms v"
            + " WHERE v.host_id = ANY(?) AND " + LEAVING + " GROUP BY v.host_id",
            rs -> Map.entry(rs.getString(1), new long[] {rs.getLong(2), rs.getLong(3)}),
            (Object) hostIds.toArray(String[]::new))
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  /**
   * Takes the definition's lock if no request holds it, so no lease is granted on its VMs until
   * this transaction ends; false when a request holds it now (its VMs are busy).
   */
  public boolean tryLockDefinition(Database.Tx tx, String definition) throws SQLException {
    return tx.queryOne(
        "SELECT pg_try_advisory_xact_lock(hashtextextended('definition:' || ?, 0))",
        rs -> rs.getBoolean(1), definition).orElse(false);
  }

  /** Records that the VM is archived to make room for {@code forVm}. */
  public void markReclaimed(Database.Tx tx, UUID vmId, UUID forVm) throws SQLException {
    tx.update("UPDATE vms SET reclaimed_for = ? WHERE id = ?", forVm, vmId);
  }

  /** Records that the VM, just placed, waits for the VMs leaving its host before it runs. */
  public void waitForRoom(Database.Tx tx, UUID vmId) throws SQLException {
    tx.update("UPDATE vms SET waits_for_room = true WHERE id = ?", vmId);
  }

  /**
   * The VMs leaving the host of a VM that waits for room; empty when it waits for nothing (it was
   * placed with room, or they have gone). It waits for every VM leaving, not only those archived
   * for it: reclaim counted their room as coming.
   */
  public List<UUID> leavingBefore(Database.Tx tx, UUID waiter, String hostId)
      throws SQLException {
    return tx.query("SELECT v.id FROM vms v WHERE v.host_id = ? AND v.id <> ? AND " + LEAVING
            + " AND EXISTS (SELECT 1 FROM vms w WHERE w.id = ? AND w.waits_for_room)",
        rs -> Rows.uuid(rs, "id"), hostId, waiter, waiter);
  }

  /** The room is there: the VM no longer waits. */
  public void roomMade(Database.Tx tx, UUID waiter) throws SQLException {
    tx.update("UPDATE vms SET waits_for_room = false WHERE id = ? AND waits_for_room", waiter);
  }

  /** The VMs on the host that wait for room made for them. */
  public List<UUID> waitingOn(Database.Tx tx, String hostId) throws SQLException {
    return tx.query("SELECT id FROM vms WHERE host_id = ? AND waits_for_room"
            + " AND state IN ('PROVISIONING', 'RESTORING')",
        rs -> Rows.uuid(rs, "id"), hostId);
  }
}
