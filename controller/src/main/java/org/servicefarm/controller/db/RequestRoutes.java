package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.RequestKey;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/**
 * The request method's reads of the VM table (see broker.RequestDecider): the route of a request
 * with the definition's lock, the VMs that could answer it, and whether a VM may take one more
 * lease. Read-only, but some statements lock: they run inside the request's transaction. The
 * VM rows' writes are {@link VmRepository}'s; the listings operators read are {@link VmListings}.
 */
public final class RequestRoutes {

  /**
   * A VM of a definition that a request may answer with: where its service is reached (null
   * when it is not reachable now), how loaded its host is, and how many live leases it holds
   * (each weighted by the users it stands for: a gateway's lease by its open connections).
   */
  public record Candidate(VmRecord vm, String hostAddress, Integer hostPort, double hostCpuPercent,
      long hostAllocatedMemoryMb, int liveLeases) {

    /** ACTIVE, wanted ACTIVE, and reachable: a request can be answered at once. */
    public boolean warm() {
      return vm.state() == VmState.ACTIVE && vm.desiredState() == DesiredState.ACTIVE
          && hostAddress != null && hostPort != null;
    }
  }

  /**
   * Where a request for a service is routed, and the earlier request that holds its idempotency
   * key, if any (then the caller answers what that request chose).
   */
  public record RequestRoute(CatalogRepository.ServiceRoute route,
      Optional<OperationRepository.KeyedRequest> earlier) {}

  /**
   * The first statement of a request: the service's route with its definition's policy, the
   * earlier request with the key, and the definition's transaction-scoped advisory lock (the key
   * the idle ladder locks), one round trip. The lock is exclusive when the definition caps leases
   * per VM (a request must see every lease granted before it) or when {@code exclusive} asks;
   * otherwise shared, so warm requests run side by side and still never overlap the ladder or a
   * request that holds it exclusive. The candidates must be read by a later statement: this one's
   * snapshot predates the lock.
   *
   * @return empty when no such service exists
   */
  public Optional<RequestRoute> routeLocked(Database.Tx tx, String service, RequestKey key,
      boolean exclusive) throws SQLException {
    return tx.queryOne(
        "SELECT s.name, s.definition, s.guest_port, " + CatalogRepository.POLICY_COLUMNS + ","
            + " d.project AS owner,"
            + " CASE WHEN ? OR d.max_leases_per_vm > 0"
            + "   THEN pg_advisory_xact_lock(hashtextextended('definition:' || s.definition, 0))"
            + "   ELSE pg_advisory_xact_lock_shared(hashtextextended('definition:' || s.definition, 0))"
            + " END AS locked,"
            + " o.id AS earlier_id, o.service AS earlier_service, o.vm_id AS earlier_vm,"
            + " o.created AS earlier_created"
            + " FROM services s JOIN service_definitions d ON d.name = s.definition"
            + " LEFT JOIN operations o ON o.caller = ? AND o.request_key = ?"
            + " WHERE s.name = ? AND (?::text IS NULL OR d.project = ?::text OR d.shared)",
        RequestRoutes::requestRoute,
        exclusive,
        key.caller(),
        key.idempotencyKey(),
        service,
        key.project(),
        key.project());
  }

  /**
   * {@link #routeLocked} for a group-committed decision, which may hold only shared locks (its
   * batch's other callers would wait behind an exclusive one): the definition's lock is taken
   * shared, and not at all when the definition caps leases per VM, since such a decision needs
   * the exclusive lock and is made alone (the caller sees {@code maxLeasesPerVm > 0} and leaves
   * the batch, having written nothing).
   */
  public Optional<RequestRoute> routeSharedLocked(Database.Tx tx, String service, RequestKey key)
      throws SQLException {
    return tx.queryOne(
        "SELECT s.name, s.definition, s.guest_port, " + CatalogRepository.POLICY_COLUMNS + ","
            + " d.project AS owner,"
            + " CASE WHEN d.max_leases_per_vm > 0 THEN NULL ELSE pg_advisory_xact_lock_shared("
            + "   hashtextextended('definition:' || s.definition, 0))::text END AS locked,"
            + " o.id AS earlier_id, o.service AS earlier_service, o.vm_id AS earlier_vm,"
            + " o.created AS earlier_created"
            + " FROM services s JOIN service_definitions d ON d.name = s.definition"
            + " LEFT JOIN operations o ON o.caller = ? AND o.request_key = ?"
            + " WHERE s.name = ? AND (?::text IS NULL OR d.project = ?::text OR d.shared)",
        RequestRoutes::requestRoute,
        key.caller(),
        key.idempotencyKey(),
        service,
        key.project(),
        key.project());
  }

  private static RequestRoute requestRoute(java.sql.ResultSet rs) throws SQLException {
    UUID earlier = Rows.uuid(rs, "earlier_id");
    return new RequestRoute(
        new CatalogRepository.ServiceRoute(rs.getString(1), rs.getString(2), rs.getInt(3),
            CatalogRepository.POLICY.map(rs), rs.getString("owner")),
        earlier == null ? Optional.empty() : Optional.of(new OperationRepository.KeyedRequest(
            earlier, rs.getString("earlier_service"), Rows.uuid(rs, "earlier_vm"),
            rs.getBoolean("earlier_created"))));
  }

  /**
   * Whether the VM can take one more lease under its definition's {@code max_leases_per_vm},
   * holding the definition's exclusive lock (as a deciding request does) until the transaction
   * ends, so the lease the caller then grants cannot pass the cap. The live leases are counted
   * (by their weight, see {@link Candidate}) by a second statement, whose snapshot follows the
   * lock.
   */
  public boolean leaseFitsLocked(Database.Tx tx, UUID vmId) throws SQLException {
    Optional<Integer> cap = tx.queryOne(
        "SELECT d.max_leases_per_vm,"
            + " pg_advisory_xact_lock(hashtextextended('definition:' || d.name, 0)) AS locked"
            + " FROM vms v JOIN service_definitions d ON d.name = v.definition WHERE v.id = ?",
        rs -> rs.getInt(1),
        vmId);
    if (cap.isEmpty() || cap.get() == 0) {
      return true;
    }
    long live = tx.queryOne(
        "SELECT COALESCE(sum(connections), 0) FROM leases"
            + " WHERE vm_id = ? AND released_at IS NULL AND expires_at > now()",
        rs -> rs.getLong(1),
        vmId).orElse(0L);
    return live < cap.get();
  }

  /**
   * Every VM of the definition that still exists, with the access to {@code service} on it and
   * its live leases: one query, for the request path.
   *
   * <p>Live leases are counted only when a choice depends on them, because counting reads every
   * live lease of the VM (a busy VM holds thousands): when the definition caps leases per VM, or
   * has several VMs to spread requests over. The only VM of an uncapped definition shows 0.
   */
  public List<Candidate> candidates(Database.Tx tx, String definition, String service,
      int maxLeasesPerVm) throws SQLException {
    return candidates(tx, definition, service, maxLeasesPerVm, null);
  }

  /** As above, only the VMs of {@code project} (null: of every project). */
  public List<Candidate> candidates(Database.Tx tx, String definition, String service,
      int maxLeasesPerVm, String project) throws SQLException {
    return tx.query(
        "SELECT v.*, h.address, vs.host_port, h.load_cpu_percent,"
            + " (SELECT COALESCE(sum(o.memory_mb), 0) FROM vms o WHERE o.host_id = v.host_id"
            + "   AND o.state IN ('ACTIVE', 'STARTING', 'PROVISIONING', 'RESTORING')) AS allocated,"
            + " CASE WHEN ? > 0 OR count(*) OVER () > 1"
            + "   THEN (SELECT COALESCE(sum(l.connections), 0) FROM leases l"
            + "   WHERE l.vm_id = v.id AND l.released_at IS NULL AND l.expires_at > now())"
            + "   ELSE 0 END AS live_leases"
            + " FROM (SELECT " + VmRepository.COLUMNS + " FROM vms WHERE definition = ?"
            + "   AND state NOT IN ('DELETED', 'FAILED')"
            + "   AND (?::text IS NULL OR project = ?::text)) v"
            + " LEFT JOIN hosts h ON h.id = v.host_id"
            + " LEFT JOIN vm_services vs ON vs.vm_id = v.id AND vs.service = ?"
            + " ORDER BY v.created_at, v.id",
        rs ->
            new Candidate(
                VmRepository.MAPPER.map(rs),
                rs.getString("address"),
                Rows.nullableInt(rs, "host_port"),
                rs.getDouble("load_cpu_percent"),
                rs.getLong("allocated"),
                rs.getInt("live_leases")),
        maxLeasesPerVm,
        definition,
        project,
        project,
        service);
  }
}
