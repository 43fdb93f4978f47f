package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.servicefarm.controller.model.HostRecord.HostLoad;
import org.servicefarm.controller.model.HostRecord.HostStatus;
import org.servicefarm.controller.model.HostRecord;

/** Farm hosts ({@code hosts}) and the resources their VMs hold. */
public final class HostRepository {

  // Allocations count every VM that holds resources on the host (see VmState.ON_HOST).
  private static final String SELECT =
      "SELECT h.id, h.address, h.hypervisor, h.status, h.capacity_vcpus, h.capacity_memory_mb,"
          + " h.capacity_disk_mb, h.load_cpu_percent, h.load_memory_used_mb,"
          + " h.load_memory_total_mb, h.load_vm_count, h.load_disk_free_mb, h.last_report_at,"
          + " COALESCE(a.vcpus, 0) AS allocated_vcpus, COALESCE(a.memory_mb, 0) AS allocated_memory_mb,"
          + " h.cpu_overcommit, h.memory_overcommit, " + HostLabelRepository.LABELS_COLUMN
          + " FROM hosts h LEFT JOIN ("
          + "   SELECT host_id, sum(vcpus) AS vcpus, sum(memory_mb) AS memory_mb FROM vms"
          + "   WHERE host_id IS NOT NULL AND state NOT IN ('ARCHIVED', 'DELETED', 'FAILED')"
          + "   GROUP BY host_id) a ON a.host_id = h.id ";

  private static final Database.RowMapper<HostRecord> MAPPER =
      rs ->
          new HostRecord(
              rs.getString("id"),
              rs.getString("address"),
              rs.getString("hypervisor"),
              HostStatus.valueOf(rs.getString("status")),
              rs.getInt("capacity_vcpus"),
              rs.getLong("capacity_memory_mb"),
              rs.getLong("capacity_disk_mb"),
              new HostLoad(
                  rs.getDouble("load_cpu_percent"),
                  rs.getLong("load_memory_used_mb"),
                  rs.getLong("load_memory_total_mb"),
                  rs.getInt("load_vm_count"),
                  rs.getLong("load_disk_free_mb")),
              Rows.instant(rs, "last_report_at"),
              rs.getInt("allocated_vcpus"),
              rs.getLong("allocated_memory_mb"),
              HostLabelRepository.labels(rs),
              rs.getDouble("cpu_overcommit"),
              rs.getDouble("memory_overcommit"));

  /** Records a registration; returns the status the host had before (empty for a new host). */
  public Optional<HostStatus> register(
      Database.Tx tx,
      String id,
      String address,
      String hypervisor,
      int vcpus,
      long memoryMb,
      long diskMb,
      HostLoad load)
      throws SQLException {
    Optional<HostStatus> before =
        tx.queryOne(
            "SELECT status FROM hosts WHERE id = ? FOR UPDATE",
            rs -> HostStatus.valueOf(rs.getString(1)),
            id);
    // A draining host stays draining across reconnects; anything else comes back UP.
    tx.update(
        "INSERT INTO hosts (id, address, hypervisor, status, capacity_vcpus, capacity_memory_mb,"
            + " capacity_disk_mb, last_report_at) VALUES (?, ?, ?, 'UP', ?, ?, ?, now())"
            + " ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address,"
            + " hypervisor = EXCLUDED.hypervisor, capacity_vcpus = EXCLUDED.capacity_vcpus,"
            + " capacity_memory_mb = EXCLUDED.capacity_memory_mb,"
            + " capacity_disk_mb = EXCLUDED.capacity_disk_mb, last_report_at = now(),"
            + " status = CASE WHEN hosts.status = 'DRAINING' THEN 'DRAINING' ELSE 'UP' END",
        id,
        address,
        hypervisor,
        vcpus,
        memoryMb,
        diskMb);
    saveLoad(tx, id, load, Instant.now());
    return before;
  }

  public void saveLoad(Database.Tx tx, String id, HostLoad load, Instant reportedAt)
      throws SQLException {
    tx.update(
        "UPDATE hosts SET load_cpu_percent = ?, load_memory_used_mb = ?, load_memory_total_mb = ?,"
            + " load_vm_count = ?, load_disk_free_mb = ?, last_report_at = ? WHERE id = ?",
        Math.max(0, Math.min(100, load.cpuPercent())),
        Math.max(0, load.memoryUsedMb()),
        Math.max(0, load.memoryTotalMb()),
        Math.max(0, load.vmCount()),
        Math.max(0, load.diskFreeMb()),
        reportedAt,
        id);
  }

  /** One host's load as reported, for {@link #saveLoads}. */
  public record LoadRow(String id, HostLoad load, Instant reportedAt) {}

  /**
   * Writes the load of many hosts in one statement: the heartbeat flusher's single write per
   * tick, whatever the number of hosts (a statement per host would be thousands a second).
   */
  public int saveLoads(Database.Tx tx, List<LoadRow> rows) throws SQLException {
    if (rows.isEmpty()) {
      return 0;
    }
    int n = rows.size();
    String[] ids = new String[n];
    Double[] cpu = new Double[n];
    Long[] memUsed = new Long[n];
    Long[] memTotal = new Long[n];
    Integer[] vmCount = new Integer[n];
    Long[] diskFree = new Long[n];
    java.time.OffsetDateTime[] at = new java.time.OffsetDateTime[n];
    for (int i = 0; i < n; i++) {
      HostLoad l = rows.get(i).load();
      ids[i] = rows.get(i).id();
      cpu[i] = Math.max(0, Math.min(100, l.cpuPercent()));
      memUsed[i] = Math.max(0, l.memoryUsedMb());
      memTotal[i] = Math.max(0, l.memoryTotalMb());
      vmCount[i] = Math.max(0, l.vmCount());
      diskFree[i] = Math.max(0, l.diskFreeMb());
      at[i] = java.time.OffsetDateTime.ofInstant(rows.get(i).reportedAt(), java.time.ZoneOffset.UTC);
    }
    var c = tx.connection();
    return tx.update(
        "UPDATE hosts h SET load_cpu_percent = u.cpu, load_memory_used_mb = u.mem_used,"
            + " load_memory_total_mb = u.mem_total, load_vm_count = u.vm_count,"
            + " load_disk_free_mb = u.disk_free, last_report_at = u.at"
            + " FROM unnest(?::text[], ?::float8[], ?::int8[], ?::int8[], ?::int4[], ?::int8[],"
            + "   ?::timestamptz[]) AS u(id, cpu, mem_used, mem_total, vm_count, disk_free, at)"
            + " WHERE h.id = u.id",
        ids, c.createArrayOf("float8", cpu), c.createArrayOf("int8", memUsed),
        c.createArrayOf("int8", memTotal), c.createArrayOf("int4", vmCount),
        c.createArrayOf("int8", diskFree), c.createArrayOf("timestamptz", at));
  }

  /** How many hosts have each status (statuses no host has are absent). */
  public static java.util.Map<HostStatus, Integer> countsByStatus(Database db) {
    java.util.Map<HostStatus, Integer> counts = new java.util.EnumMap<>(HostStatus.class);
    db.query("SELECT status, count(*) FROM hosts GROUP BY status",
            rs -> java.util.Map.entry(HostStatus.valueOf(rs.getString(1)), rs.getInt(2)))
        .forEach(e -> counts.put(e.getKey(), e.getValue()));
    return counts;
  }

  /** Every host's status, without the allocation sums {@link #list} computes. */
  public java.util.Map<String, HostStatus> statuses(Database.Tx tx) throws SQLException {
    java.util.Map<String, HostStatus> out = new java.util.HashMap<>();
    tx.query("SELECT id, status FROM hosts",
            rs -> java.util.Map.entry(rs.getString(1), HostStatus.valueOf(rs.getString(2))))
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  /**
   * Hosts we had given up on report again: those of {@code ids} that were DOWN are UP now (a
   * draining host stays draining). Returns the ones that changed.
   */
  public List<String> markUpIfDown(Database.Tx tx, List<String> ids) throws SQLException {
    return tx.query("UPDATE hosts SET status = 'UP' WHERE id = ANY(?) AND status = 'DOWN' RETURNING id",
        rs -> rs.getString(1), (Object) ids.toArray(String[]::new));
  }

  /** Sets the status; returns the previous one, or empty when the host is unknown or unchanged. */
  public Optional<HostStatus> setStatus(Database.Tx tx, String id, HostStatus status)
      throws SQLException {
    Optional<HostStatus> before =
        tx.queryOne(
            "SELECT status FROM hosts WHERE id = ? FOR UPDATE",
            rs -> HostStatus.valueOf(rs.getString(1)),
            id);
    if (before.isEmpty() || before.get() == status) {
      return Optional.empty();
    }
    tx.update("UPDATE hosts SET status = ? WHERE id = ?", status.name(), id);
    return before;
  }

  public List<HostRecord> list(Database db) {
    return db.query(SELECT + "ORDER BY h.id", MAPPER);
  }

  public List<HostRecord> list(Database.Tx tx) throws SQLException {
    return tx.query(SELECT + "ORDER BY h.id", MAPPER);
  }

  public Optional<HostRecord> find(Database.Tx tx, String id) throws SQLException {
    return tx.queryOne(SELECT + "WHERE h.id = ?", MAPPER, id);
  }

  /**
   * Locks the host's row for the rest of the transaction and reads its allocations afresh, so a
   * placement can verify capacity at commit: two placements on one host serialise on this lock,
   * and READ COMMITTED lets the second see the first's VM once it has committed.
   */
  public Optional<HostRecord> lockForPlacement(Database.Tx tx, String id) throws SQLException {
    tx.query("SELECT id FROM hosts WHERE id = ? FOR UPDATE", rs -> 0, id);
    return find(tx, id);
  }

  /**
   * As {@link #lockForPlacement}, but empty at once when another placement holds the host's row,
   * instead of waiting for that placement's transaction to commit.
   */
  public Optional<HostRecord> lockForPlacementIfFree(Database.Tx tx, String id)
      throws SQLException {
    boolean locked = !tx.query("SELECT id FROM hosts WHERE id = ? FOR UPDATE SKIP LOCKED",
        rs -> 0, id).isEmpty();
    return locked ? find(tx, id) : Optional.empty();
  }
}
