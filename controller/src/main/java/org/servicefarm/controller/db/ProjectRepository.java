package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import org.servicefarm.controller.model.ProjectRecord;
import org.servicefarm.controller.model.ProjectRecord.Quota;
import org.servicefarm.controller.model.ProjectRecord.Usage;

/**
 * Projects ({@code projects}) and what each holds. A deleted project keeps its row (history names
 * it) with {@code deleted_at} set; every reader here sees live projects only.
 */
public final class ProjectRepository {
  private static final String COLUMNS =
      "name, created_at, quota_vcpus, quota_memory_mb, quota_vms, quota_stored_bytes";

  private static final Database.RowMapper<ProjectRecord> MAPPER =
      rs -> new ProjectRecord(rs.getString("name"), Rows.instant(rs, "created_at"),
          new Quota(Rows.nullableInt(rs, "quota_vcpus"), nullableLong(rs, "quota_memory_mb"),
              Rows.nullableInt(rs, "quota_vms"), nullableLong(rs, "quota_stored_bytes")));

  /** VMs that count towards a project's quota: wanted running or asleep, or archived to move. */
  static final String RESIDENT = "state NOT IN ('DELETED', 'FAILED')"
      + " AND (desired_state IN ('ACTIVE', 'SLEEPING') OR return_to IS NOT NULL)";

  /**
   * VMs whose archive the image store keeps (BlobReferences: the VM's archive_ref, until it is
   * deleted; a restored VM keeps its newest archive): its bytes are the project's stored bytes.
   */
  static final String KEEPS_ARCHIVE = "state <> 'DELETED' AND archive_bytes IS NOT NULL";

  /**
   * A new project; empty when the name is taken by a live or a deleted project (a deleted one's
   * name is not given out again: its history still names it).
   */
  public Optional<ProjectRecord> insert(Database.Tx tx, String name, Quota quota)
      throws SQLException {
    return tx.queryOne("INSERT INTO projects (name, quota_vcpus, quota_memory_mb, quota_vms,"
            + " quota_stored_bytes) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING"
            + " RETURNING " + COLUMNS,
        MAPPER, name, quota.vcpus(), quota.memoryMb(), quota.vms(), quota.storedBytes());
  }

  public List<ProjectRecord> list(Database.Tx tx) throws SQLException {
    return tx.query("SELECT " + COLUMNS + " FROM projects WHERE deleted_at IS NULL ORDER BY name",
        MAPPER);
  }

  public Optional<ProjectRecord> find(Database.Tx tx, String name) throws SQLException {
    return tx.queryOne("SELECT " + COLUMNS + " FROM projects WHERE name = ? AND deleted_at IS NULL",
        MAPPER, name);
  }

  /** Whether a deleted project had the name (so it cannot be created again). */
  public boolean wasDeleted(Database.Tx tx, String name) throws SQLException {
    return tx.queryOne("SELECT 1 FROM projects WHERE name = ? AND deleted_at IS NOT NULL",
        rs -> rs.getInt(1), name).isPresent();
  }

  /** Replaces the limits; false when there is no such live project. */
  public boolean setQuota(Database.Tx tx, String name, Quota quota) throws SQLException {
    return tx.update("UPDATE projects SET quota_vcpus = ?, quota_memory_mb = ?, quota_vms = ?,"
            + " quota_stored_bytes = ? WHERE name = ? AND deleted_at IS NULL",
        quota.vcpus(), quota.memoryMb(), quota.vms(), quota.storedBytes(), name) == 1;
  }

  /** Marks the project deleted; false when there is no such live project. */
  public boolean markDeleted(Database.Tx tx, String name) throws SQLException {
    return tx.update("UPDATE projects SET deleted_at = now() WHERE name = ? AND deleted_at IS NULL",
        name) == 1;
  }

  /**
   * What still holds the project: definitions in the catalog, VMs not deleted, live tokens. A
   * project is deleted only when all are zero.
   */
  public record Holdings(int definitions, int vms, int tokens) {
    public boolean none() {
      return definitions == 0 && vms == 0 && tokens == 0;
    }
  }

  public Holdings holdings(Database.Tx tx, String name) throws SQLException {
    return tx.queryOne("SELECT"
            + " (SELECT count(*) FROM service_definitions d WHERE d.project = ?"
            + "   AND EXISTS (SELECT 1 FROM services s WHERE s.definition = d.name)),"
            + " (SELECT count(*) FROM vms WHERE project = ? AND state <> 'DELETED'),"
            + " (SELECT count(*) FROM api_tokens WHERE project = ? AND revoked_at IS NULL)",
        rs -> new Holdings(rs.getInt(1), rs.getInt(2), rs.getInt(3)), name, name, name)
        .orElseThrow();
  }

  /**
   * Takes the project's quota lock until the transaction ends, so quota checks of one project run
   * one at a time and each sees what the one before committed. Usage must be read by a later
   * statement: a statement's snapshot predates a lock it takes.
   */
  public void lockForQuota(Database.Tx tx, String name) throws SQLException {
    tx.queryOne("SELECT pg_advisory_xact_lock(hashtextextended('project-quota:' || ?, 0))",
        rs -> 1, name);
  }

  public Usage usage(Database.Tx tx, String name) throws SQLException {
    return tx.queryOne("SELECT"
            + " (SELECT COALESCE(sum(vcpus), 0) FROM vms WHERE project = ? AND " + RESIDENT + "),"
            + " (SELECT COALESCE(sum(memory_mb), 0) FROM vms WHERE project = ? AND " + RESIDENT + "),"
            + " (SELECT count(*) FROM vms WHERE project = ? AND " + RESIDENT + "),"
            + " (SELECT COALESCE(sum(size_bytes), 0) FROM images WHERE project = ?)"
            + " + (SELECT COALESCE(sum(archive_bytes), 0) FROM vms WHERE project = ? AND "
            + KEEPS_ARCHIVE + ")",
        rs -> new Usage(rs.getInt(1), rs.getLong(2), rs.getInt(3), rs.getLong(4)),
        name, name, name, name, name).orElse(Usage.NONE);
  }

  /** A live project with its quota and usage, for metrics. */
  public record Census(ProjectRecord project, Usage usage) {}

  /** Every live project with its quota and usage: one grouped query, for a metrics scrape. */
  public List<Census> census(Database db) {
    return db.query("SELECT p." + COLUMNS.replace(", ", ", p.") + ","
            + " COALESCE(v.vcpus, 0) AS used_vcpus, COALESCE(v.memory_mb, 0) AS used_memory_mb,"
            + " COALESCE(v.n, 0) AS used_vms, COALESCE(i.bytes, 0) AS used_bytes"
            + " FROM projects p"
            + " LEFT JOIN (SELECT project, sum(vcpus) AS vcpus, sum(memory_mb) AS memory_mb,"
            + "   count(*) AS n FROM vms WHERE " + RESIDENT + " GROUP BY project) v"
            + "   ON v.project = p.name"
            + " LEFT JOIN (SELECT project, sum(bytes) AS bytes FROM ("
            + "   SELECT project, size_bytes AS bytes FROM images WHERE project IS NOT NULL"
            + "   UNION ALL SELECT project, archive_bytes FROM vms WHERE " + KEEPS_ARCHIVE
            + " ) stored GROUP BY project) i ON i.project = p.name"
            + " WHERE p.deleted_at IS NULL ORDER BY p.name",
        rs -> new Census(MAPPER.map(rs), new Usage(rs.getInt("used_vcpus"),
            rs.getLong("used_memory_mb"), rs.getInt("used_vms"), rs.getLong("used_bytes"))));
  }

  private static Long nullableLong(java.sql.ResultSet rs, String column) throws SQLException {
    long value = rs.getLong(column);
    return rs.wasNull() ? null : value;
  }
}
