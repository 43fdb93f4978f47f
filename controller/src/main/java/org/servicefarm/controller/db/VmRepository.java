package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmServiceRecord;
import org.servicefarm.controller.model.VmState;

/**
 * The VM table ({@code vms}) and the list of services offered ({@code vm_services}). Every state
 * change is guarded by the state it expects ({@code UPDATE ... WHERE state = ANY(expected)}) and
 * appended to {@code events} in the same transaction.
 */
public final class VmRepository {
  static final String COLUMNS =
      "id, definition, image_id, host_id, state, desired_state, generation, vcpus, memory_mb,"
          + " archive_ref, failure_reason, created_at, updated_at, project";

  static final Database.RowMapper<VmRecord> MAPPER =
      rs ->
          new VmRecord(
              Rows.uuid(rs, "id"),
              rs.getString("definition"),
              Rows.uuid(rs, "image_id"),
              rs.getString("host_id"),
              VmState.valueOf(rs.getString("state")),
              DesiredState.valueOf(rs.getString("desired_state")),
              rs.getLong("generation"),
              rs.getInt("vcpus"),
              rs.getLong("memory_mb"),
              rs.getString("archive_ref"),
              rs.getString("failure_reason"),
              Rows.instant(rs, "created_at"),
              Rows.instant(rs, "updated_at"),
              rs.getString("project"));

  private final EventRepository events;

  public VmRepository(EventRepository events) {
    this.events = events;
  }

  /** A new VM placed on a host, to be installed there. */
  public VmRecord insertProvisioning(
      Database.Tx tx, String definition, UUID imageId, String hostId, int vcpus, long memoryMb,
      String cause)
      throws SQLException {
    return insertProvisioning(tx, definition, imageId, hostId, vcpus, memoryMb,
        org.servicefarm.controller.model.ProjectScope.DEFAULT, cause);
  }

  /** A new VM of the project placed on a host, to be installed there. */
  public VmRecord insertProvisioning(
      Database.Tx tx, String definition, UUID imageId, String hostId, int vcpus, long memoryMb,
      String project, String cause)
      throws SQLException {
    UUID id = UUID.randomUUID();
    return tx.query(
            "WITH placed AS (INSERT INTO vms (id, definition, image_id, host_id, state,"
                + " desired_state, vcpus, memory_mb, project) VALUES (?, ?, ?, ?, 'PROVISIONING',"
                + " 'ACTIVE', ?, ?, ?) RETURNING " + COLUMNS + "), logged AS ("
                + EventRepository.vmStateOf("placed") + ") SELECT " + COLUMNS + " FROM placed",
            MAPPER,
            id,
            definition,
            imageId,
            hostId,
            vcpus,
            memoryMb,
            project,
            hostId,
            null,
            VmState.PROVISIONING.name(),
            cause)
        .get(0);
  }

  public Optional<VmRecord> find(Database.Tx tx, UUID id) throws SQLException {
    return tx.queryOne("SELECT " + COLUMNS + " FROM vms WHERE id = ?", MAPPER, id);
  }

  public Optional<VmRecord> lock(Database.Tx tx, UUID id) throws SQLException {
    return tx.queryOne("SELECT " + COLUMNS + " FROM vms WHERE id = ? FOR UPDATE", MAPPER, id);
  }

  /** The definition's VMs that still exist, oldest first. */
  public List<VmRecord> ofDefinition(Database.Tx tx, String definition) throws SQLException {
    return tx.query(
        "SELECT " + COLUMNS + " FROM vms WHERE definition = ? AND state NOT IN ('DELETED', 'FAILED')"
            + " ORDER BY created_at, id",
        MAPPER,
        definition);
  }

  public List<VmRecord> onHost(Database.Tx tx, String hostId) throws SQLException {
    return tx.query(
        "SELECT " + COLUMNS + " FROM vms WHERE host_id = ? ORDER BY id", MAPPER, hostId);
  }

  /** The VM ids among these that a VM row (not DELETED) or a live lease refers to. */
  public java.util.Set<String> claimedIds(Database.Tx tx, Collection<String> vmIds)
      throws SQLException {
    String[] ids = vmIds.toArray(String[]::new);
    return new java.util.HashSet<>(tx.query(
        "SELECT id::text FROM vms WHERE id::text = ANY(?) AND state <> 'DELETED'"
            + " UNION SELECT vm_id::text FROM leases WHERE vm_id::text = ANY(?)"
            + " AND released_at IS NULL AND expires_at > now()",
        rs -> rs.getString(1), ids, ids));
  }

  /** VMs whose observed state differs from the desired one and can still change. */
  public List<UUID> unsettled(Database.Tx tx) throws SQLException {
    return tx.query(
        "SELECT id FROM vms WHERE state <> desired_state AND state NOT IN ('DELETED', 'FAILED')",
        rs -> Rows.uuid(rs, "id"));
  }

  /**
   * Changes what the controller wants; bumps the generation that keys the agent's commands. Wanting
   * a VM ACTIVE counts as a use of it, so the idle ladder does not put a VM just woken (by a
   * request, an admin or the warm pool) straight back to sleep.
   */
  public VmRecord setDesired(Database.Tx tx, VmRecord vm, DesiredState desired, String cause)
      throws SQLException {
    if (vm.desiredState() == desired) {
      return vm;
    }
    VmRecord updated =
        tx.query(
                "UPDATE vms SET desired_state = ?, generation = generation + 1, updated_at = now(),"
                    + " last_used_at = CASE WHEN ? THEN now() ELSE last_used_at END,"
                    // A new desire supersedes a drain's plan to bring the VM back after its archive.
                    + " return_to = NULL"
                    + " WHERE id = ? RETURNING " + COLUMNS,
                MAPPER,
                desired.name(),
                desired == DesiredState.ACTIVE,
                vm.id())
            .get(0);
    events.append(tx, "VM_DESIRED", vm.id(), vm.hostId(), null, vm.desiredState(), desired, cause);
    return updated;
  }

  /**
   * Plans the VM's move off its host: archive it, then bring it back to {@code returnTo} (wherever
   * placement puts it, see {@link #takeReturn}). Only a VM still in {@code vm}'s state and desired
   * state moves; empty when another actor changed it first.
   */
  public Optional<VmRecord> moveAway(Database.Tx tx, VmRecord vm, DesiredState returnTo,
      String cause) throws SQLException {
    Optional<VmRecord> updated =
        tx.queryOne(
            "UPDATE vms SET desired_state = 'ARCHIVED', return_to = ?, generation = generation + 1,"
                + " updated_at = now() WHERE id = ? AND state = ? AND desired_state = ?"
                + " RETURNING " + COLUMNS,
            MAPPER,
            returnTo.name(),
            vm.id(),
            vm.state().name(),
            vm.desiredState().name());
    if (updated.isPresent()) {
      events.append(tx, "VM_DESIRED", vm.id(), vm.hostId(), null, vm.desiredState(),
          DesiredState.ARCHIVED, cause);
    }
    return updated;
  }

  /** Takes (and clears) the state a moved VM returns to after its archive; empty when none. */
  public Optional<DesiredState> takeReturn(Database.Tx tx, UUID id) throws SQLException {
    return tx.queryOne(
        "UPDATE vms v SET return_to = NULL FROM (SELECT id, return_to FROM vms"
            + " WHERE id = ? AND return_to IS NOT NULL FOR UPDATE) old"
            + " WHERE v.id = old.id RETURNING old.return_to",
        rs -> DesiredState.valueOf(rs.getString(1)),
        id);
  }

  /**
   * Moves the VM to {@code to} if it is in one of {@code expected}; returns the updated row, or
   * empty when another actor moved it first.
   */
  public Optional<VmRecord> transition(
      Database.Tx tx, UUID id, Set<VmState> expected, VmState to, String cause) throws SQLException {
    return transition(tx, id, expected, to, cause, Change.NONE);
  }

  /** Column changes that go with a transition. */
  public record Change(boolean setHost, String hostId, String archiveRef, String failureReason) {
    public static final Change NONE = new Change(false, null, null, null);

    public static Change host(String hostId) {
      return new Change(true, hostId, null, null);
    }

    public static Change archived(String archiveRef) {
      return new Change(true, null, archiveRef, null);
    }

    public static Change failed(String reason) {
      return new Change(false, null, null, reason);
    }
  }

  public Optional<VmRecord> transition(
      Database.Tx tx, UUID id, Set<VmState> expected, VmState to, String cause, Change change)
      throws SQLException {
    Optional<VmRecord> before = lock(tx, id);
    if (before.isEmpty() || !expected.contains(before.get().state())) {
      return Optional.empty();
    }
    VmRecord vm = before.get();
    String hostId = change.setHost() ? change.hostId() : vm.hostId();
    String archiveRef = change.archiveRef() != null ? change.archiveRef() : vm.archiveRef();
    // The change and its event in one statement: one round trip for every step of every VM.
    VmRecord after =
        tx.query(
                "WITH moved AS (UPDATE vms SET state = ?, host_id = ?, archive_ref = ?,"
                    + " failure_reason = ?, updated_at = now() WHERE id = ? AND state = ?"
                    + " RETURNING " + COLUMNS + "), logged AS (" + EventRepository.vmStateOf("moved")
                    + ") SELECT " + COLUMNS + " FROM moved",
                MAPPER,
                to.name(),
                hostId,
                archiveRef,
                change.failureReason(),
                id,
                vm.state().name(),
                hostId != null ? hostId : vm.hostId(),
                vm.state().name(),
                to.name(),
                cause)
            .get(0);
    return Optional.of(after);
  }

  /** Replaces what the VM offers, with the host ports its host forwards. */
  public void setOffers(Database.Tx tx, UUID vmId, Collection<VmServiceRecord> offers)
      throws SQLException {
    tx.update("DELETE FROM vm_services WHERE vm_id = ?", vmId);
    for (VmServiceRecord offer : offers) {
      tx.update(
          "INSERT INTO vm_services (vm_id, service, guest_port, host_port) VALUES (?, ?, ?, ?)",
          vmId,
          offer.service(),
          offer.guestPort(),
          offer.hostPort());
    }
  }

  /** What the given VMs offer, in one query. */
  public List<VmServiceRecord> offers(Database.Tx tx, List<UUID> vmIds) throws SQLException {
    return tx.query(
        "SELECT vm_id, service, guest_port, host_port FROM vm_services WHERE vm_id = ANY(?)"
            + " ORDER BY service",
        rs ->
            new VmServiceRecord(
                Rows.uuid(rs, "vm_id"),
                rs.getString("service"),
                rs.getInt("guest_port"),
                Rows.nullableInt(rs, "host_port")),
        (Object) tx.connection().createArrayOf("uuid", vmIds.toArray()));
  }

  public void clearHostPorts(Database.Tx tx, UUID vmId) throws SQLException {
    tx.update("UPDATE vm_services SET host_port = NULL WHERE vm_id = ?", vmId);
  }

  /** The size of the archive the VM's archive_ref names, for its project's stored bytes. */
  public void setArchiveBytes(Database.Tx tx, UUID vmId, long bytes) throws SQLException {
    tx.update("UPDATE vms SET archive_bytes = ? WHERE id = ?", bytes, vmId);
  }

  public void touch(Database.Tx tx, UUID vmId) throws SQLException {
    tx.update("UPDATE vms SET last_used_at = now() WHERE id = ?", vmId);
  }
}
