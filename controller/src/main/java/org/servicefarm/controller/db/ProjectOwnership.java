package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.util.Optional;
import java.util.UUID;

/**
 * Which project owns a VM, lease, operation, definition or image: what a project-bound caller's
 * call is checked against before it touches one by id or name. An absent row and another
 * project's row look the same to the caller.
 */
public final class ProjectOwnership {

  /** The owner of a definition, and whether it is shared with every project. */
  public record DefinitionOwner(String project, boolean shared) {}

  /** Whether a live project has the name. */
  public boolean projectExists(Database.Tx tx, String name) throws SQLException {
    return tx.queryOne("SELECT 1 FROM projects WHERE name = ? AND deleted_at IS NULL",
        rs -> rs.getInt(1), name).isPresent();
  }

  public Optional<String> ofVm(Database.Tx tx, UUID vmId) throws SQLException {
    return tx.queryOne("SELECT project FROM vms WHERE id = ?", rs -> rs.getString(1), vmId);
  }

  /** A lease's project (its VM's, for a lease written before leases carried one). */
  public Optional<String> ofLease(Database.Tx tx, UUID leaseId) throws SQLException {
    return tx.queryOne("SELECT COALESCE(l.project, v.project) FROM leases l"
        + " JOIN vms v ON v.id = l.vm_id WHERE l.id = ?", rs -> rs.getString(1), leaseId);
  }

  /** An operation's project; empty also for one of no VM (which no project-bound caller made). */
  public Optional<String> ofOperation(Database.Tx tx, UUID operationId) throws SQLException {
    return tx.queryOne("SELECT COALESCE(o.project, v.project) FROM operations o"
            + " LEFT JOIN vms v ON v.id = o.vm_id WHERE o.id = ?"
            + " AND COALESCE(o.project, v.project) IS NOT NULL",
        rs -> rs.getString(1), operationId);
  }

  /** The owner of the definition that offers the service, while it is in the catalog. */
  public Optional<DefinitionOwner> ofService(Database.Tx tx, String service) throws SQLException {
    return tx.queryOne("SELECT d.project, d.shared FROM services s"
            + " JOIN service_definitions d ON d.name = s.definition WHERE s.name = ?",
        rs -> new DefinitionOwner(rs.getString(1), rs.getBoolean(2)), service);
  }

  /** The owner of the definition of that name (in the catalog or deleted from it). */
  public Optional<DefinitionOwner> ofDefinition(Database.Tx tx, String name) throws SQLException {
    return tx.queryOne("SELECT project, shared FROM service_definitions WHERE name = ?",
        rs -> new DefinitionOwner(rs.getString(1), rs.getBoolean(2)), name);
  }

  /** An image's project; empty inside the Optional's value (null) for a farm-wide image. */
  public Optional<Optional<String>> ofImage(Database.Tx tx, String name) throws SQLException {
    return tx.queryOne("SELECT project FROM images WHERE name = ?",
        rs -> Optional.ofNullable(rs.getString(1)), name);
  }
}
