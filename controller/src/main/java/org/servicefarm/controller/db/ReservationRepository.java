package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.util.List;
import java.util.Optional;

/**
 * Capacity reserved per project ({@code projects.reserved_*}) and how much of it the project
 * uses: its VMs that count towards its quota ({@link ProjectRepository#RESIDENT}).
 */
public final class ReservationRepository {
  /** A project's reservation and what of it its VMs use (usage may pass the reservation). */
  public record Reserved(String project, int vcpus, long memoryMb, int usedVcpus,
      long usedMemoryMb) {
    public int unusedVcpus() {
      return Math.max(0, vcpus - usedVcpus);
    }

    public long unusedMemoryMb() {
      return Math.max(0, memoryMb - usedMemoryMb);
    }
  }

  /** Replaces the project's reservation; false when there is no such live project. */
  public boolean set(Database.Tx tx, String project, int vcpus, long memoryMb)
      throws SQLException {
    return tx.update("UPDATE projects SET reserved_vcpus = ?, reserved_memory_mb = ?"
        + " WHERE name = ? AND deleted_at IS NULL", vcpus, memoryMb, project) == 1;
  }

  /** The project's reservation with its use; empty when there is no such live project. */
  public Optional<Reserved> find(Database.Tx tx, String project) throws SQLException {
    return tx.queryOne(SELECT + " AND p.name = ?", MAPPER, project);
  }

  /** Every live project that reserves something, with its use. */
  public List<Reserved> all(Database.Tx tx) throws SQLException {
    return tx.query(SELECT + " AND (p.reserved_vcpus > 0 OR p.reserved_memory_mb > 0)"
        + " ORDER BY p.name", MAPPER);
  }

  /**
   * Takes the farm's reservation lock until the transaction ends: placements that must respect a
   * reservation run one at a time, so none sees free room another is about to take.
   */
  public void lock(Database.Tx tx) throws SQLException {
    tx.queryOne("SELECT pg_advisory_xact_lock(hashtextextended('project-reservations', 0))",
        rs -> 1);
  }

  private static final String SELECT = "SELECT p.name, p.reserved_vcpus, p.reserved_memory_mb,"
      + " COALESCE((SELECT sum(vcpus) FROM vms WHERE project = p.name AND "
      + ProjectRepository.RESIDENT + "), 0) AS used_vcpus,"
      + " COALESCE((SELECT sum(memory_mb) FROM vms WHERE project = p.name AND "
      + ProjectRepository.RESIDENT + "), 0) AS used_memory_mb"
      + " FROM projects p WHERE p.deleted_at IS NULL";

  private static final Database.RowMapper<Reserved> MAPPER = rs -> new Reserved(
      rs.getString("name"), rs.getInt("reserved_vcpus"), rs.getLong("reserved_memory_mb"),
      rs.getInt("used_vcpus"), rs.getLong("used_memory_mb"));
}
