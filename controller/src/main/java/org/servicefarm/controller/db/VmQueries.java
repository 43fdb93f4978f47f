package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.RequestKey;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmServiceRecord;
import org.servicefarm.controller.model.VmState;

/** Read-only views over the VM table for the request path and the admin API. */
public final class VmQueries {
  private final VmRepository vmRepository;
  private final LeaseRepository leases;

  public VmQueries(VmRepository vmRepository, LeaseRepository leases) {
    this.vmRepository = vmRepository;
    this.leases = leases;
  }

  /** A VM with the services it offers, its live leases and when it was last used. */
  public record VmView(VmRecord vm, List<VmServiceRecord> offers, String hostAddress,
      int liveLeases, Instant lastUsedAt) {}

  /**
   * A VM of a definition that a request may answer with: where its service is reached (null
   * when it is not reachable now), how loaded its host is, and how many live leases it holds.
   */
  public record Candidate(VmRecord vm, String hostAddress, Integer hostPort, double hostCpuPercent,
      long hostAllocatedMemoryMb, int liveLeases) {

    /** ACTIVE, wanted ACTIVE, and reachable: a request can be answered at once. */
    public boolean warm() {
      return vm.state() == VmState.ACTIVE && vm.desiredState() == DesiredState.ACTIVE
          && hostAddress != null && hostPort != null;
    }
  }

  /** One page of VMs and the token for the next one (null at the end). */
  public record Page(List<VmView> vms, String nextPageToken) {}

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
            + " CASE WHEN ? OR d.max_leases_per_vm > 0"
            + "   THEN pg_advisory_xact_lock(hashtextextended('definition:' || s.definition, 0))"
            + "   ELSE pg_advisory_xact_lock_shared(hashtextextended('definition:' || s.definition, 0))"
            + " END AS locked,"
            + " o.id AS earlier_id, o.service AS earlier_service, o.vm_id AS earlier_vm,"
            + " o.created AS earlier_created"
            + " FROM services s JOIN service_definitions d ON d.name = s.definition"
            + " LEFT JOIN operations o ON o.caller = ? AND o.request_key = ?"
            + " WHERE s.name = ?",
        VmQueries::requestRoute,
        exclusive,
        key.caller(),
        key.idempotencyKey(),
        service);
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
            + " CASE WHEN d.max_leases_per_vm > 0 THEN NULL ELSE pg_advisory_xact_lock_shared("
            + "   hashtextextended('definition:' || s.definition, 0))::text END AS locked,"
            + " o.id AS earlier_id, o.service AS earlier_service, o.vm_id AS earlier_vm,"
            + " o.created AS earlier_created"
            + " FROM services s JOIN service_definitions d ON d.name = s.definition"
            + " LEFT JOIN operations o ON o.caller = ? AND o.request_key = ?"
            + " WHERE s.name = ?",
        VmQueries::requestRoute,
        key.caller(),
        key.idempotencyKey(),
        service);
  }

  private static RequestRoute requestRoute(java.sql.ResultSet rs) throws SQLException {
    UUID earlier = Rows.uuid(rs, "earlier_id");
    return new RequestRoute(
        new CatalogRepository.ServiceRoute(rs.getString(1), rs.getString(2), rs.getInt(3),
            CatalogRepository.POLICY.map(rs)),
        earlier == null ? Optional.empty() : Optional.of(new OperationRepository.KeyedRequest(
            earlier, rs.getString("earlier_service"), Rows.uuid(rs, "earlier_vm"),
            rs.getBoolean("earlier_created"))));
  }

  /**
   * Whether the VM can take one more lease under its definition's {@code max_leases_per_vm},
   * holding the definition's exclusive lock (as a deciding request does) until the transaction
   * ends, so the lease the caller then grants cannot pass the cap. The live leases are counted
   * by a second statement, whose snapshot follows the lock.
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
        "SELECT count(*) FROM leases WHERE vm_id = ? AND released_at IS NULL AND expires_at > now()",
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
    return tx.query(
        "SELECT v.*, h.address, vs.host_port, h.load_cpu_percent,"
            + " (SELECT COALESCE(sum(o.memory_mb), 0) FROM vms o WHERE o.host_id = v.host_id"
            + "   AND o.state IN ('ACTIVE', 'STARTING', 'PROVISIONING', 'RESTORING')) AS allocated,"
            + " CASE WHEN ? > 0 OR count(*) OVER () > 1 THEN (SELECT count(*) FROM leases l"
            + "   WHERE l.vm_id = v.id AND l.released_at IS NULL AND l.expires_at > now())"
            + "   ELSE 0 END AS live_leases"
            + " FROM (SELECT " + VmRepository.COLUMNS + " FROM vms WHERE definition = ?"
            + "   AND state NOT IN ('DELETED', 'FAILED')) v"
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
        service);
  }

  /**
   * Filters are ignored when null; pages are ordered by VM id. With {@code excludeDeleted} the
   * statement says {@code state <> 'DELETED'} outright, so it pages through the partial index of
   * the VMs that still exist (V16) and never reads the deleted ones.
   */
  public Page list(Database db, VmState state, String hostId, String service,
      boolean excludeDeleted, int pageSize, UUID after) {
    return db.inTransaction(
        tx -> {
          List<VmRecord> vms =
              tx.query(
                  "SELECT " + VmRepository.COLUMNS + " FROM vms v"
                      + " WHERE (?::text IS NULL OR v.state = ?::text)"
                      + (excludeDeleted ? " AND v.state <> 'DELETED'" : "")
                      + " AND (?::text IS NULL OR v.host_id = ?::text)"
                      + " AND (?::text IS NULL OR EXISTS (SELECT 1 FROM vm_services s"
                      + "   WHERE s.vm_id = v.id AND s.service = ?::text)"
                      + "   OR v.definition IN (SELECT definition FROM services WHERE name = ?::text))"
                      + " AND (?::uuid IS NULL OR v.id > ?::uuid)"
                      + " ORDER BY v.id LIMIT ?",
                  VmRepository.MAPPER,
                  state == null ? null : state.name(),
                  state == null ? null : state.name(),
                  hostId,
                  hostId,
                  service,
                  service,
                  service,
                  after,
                  after,
                  pageSize + 1);
          boolean more = vms.size() > pageSize;
          List<VmRecord> page = more ? vms.subList(0, pageSize) : vms;
          List<VmView> views = views(tx, page);
          String next = more ? page.get(page.size() - 1).id().toString() : null;
          return new Page(views, next);
        });
  }

  public List<VmView> views(Database.Tx tx, List<VmRecord> vms) throws SQLException {
    if (vms.isEmpty()) {
      return List.of();
    }
    // Offers, host addresses and lease usage for the whole page in three queries, not per VM.
    List<UUID> ids = vms.stream().map(VmRecord::id).toList();
    Map<UUID, List<VmServiceRecord>> offers = new HashMap<>();
    for (VmServiceRecord o : vmRepository.offers(tx, ids)) {
      offers.computeIfAbsent(o.vmId(), k -> new ArrayList<>()).add(o);
    }
    Map<String, String> addresses = new HashMap<>();
    for (String[] row :
        tx.query("SELECT id, address FROM hosts", rs -> new String[] {rs.getString(1), rs.getString(2)})) {
      addresses.put(row[0], row[1]);
    }
    Map<UUID, LeaseRepository.Usage> usage = leases.usage(tx, ids);
    List<VmView> views = new ArrayList<>();
    for (VmRecord vm : vms) {
      LeaseRepository.Usage used = usage.get(vm.id());
      views.add(
          new VmView(
              vm, offers.getOrDefault(vm.id(), List.of()),
              vm.hostId() == null ? null : addresses.get(vm.hostId()),
              used == null ? 0 : used.liveLeases(), used == null ? null : used.lastUsedAt()));
    }
    return views;
  }

  /**
   * Services offered now: per service, the VMs and their states. A VM being deleted offers nothing
   * (a request would not be answered with it), e.g. right after its definition was deleted.
   */
  public record OfferedService(String service, String definition, UUID vmId, VmState state) {}

  public List<OfferedService> offeredServices(Database db) {
    return db.query(
        "SELECT vs.service, v.definition, v.id, v.state FROM vm_services vs"
            + " JOIN vms v ON v.id = vs.vm_id WHERE v.state NOT IN ('DELETED', 'FAILED')"
            + " AND v.desired_state <> 'DELETED'"
            + " ORDER BY vs.service, v.id",
        rs ->
            new OfferedService(
                rs.getString(1), rs.getString(2), Rows.uuid(rs, "id"),
                VmState.valueOf(rs.getString(4))));
  }

  /** How many VMs are in each state (states with none are absent), DELETED included. */
  public Map<VmState, Integer> countsByState(Database db) {
    Map<VmState, Integer> counts = new java.util.EnumMap<>(VmState.class);
    db.query("SELECT state, count(*) FROM vms GROUP BY state",
            rs -> Map.entry(VmState.valueOf(rs.getString(1)), rs.getInt(2)))
        .forEach(e -> counts.put(e.getKey(), e.getValue()));
    return counts;
  }

  /**
   * The VMs an operator looks at first: those not deleted, then deleted ones, each most recently
   * changed first, at most {@code limit}.
   */
  public List<VmView> recent(Database db, int limit) {
    // Two statements, each down its own partial index (V16), rather than one that sorts every
    // VM the farm ever had.
    return db.inTransaction(tx -> {
      List<VmRecord> found = new ArrayList<>(tx.query(
          "SELECT " + VmRepository.COLUMNS + " FROM vms v WHERE v.state <> 'DELETED'"
              + " ORDER BY v.updated_at DESC, v.id LIMIT ?",
          VmRepository.MAPPER, limit));
      if (found.size() < limit) {
        found.addAll(tx.query(
            "SELECT " + VmRepository.COLUMNS + " FROM vms v WHERE v.state = 'DELETED'"
                + " ORDER BY v.updated_at DESC, v.id LIMIT ?",
            VmRepository.MAPPER, limit - found.size()));
      }
      return views(tx, found);
    });
  }

  /** How many VMs hold resources on each host (states in {@link VmState#ON_HOST}). */
  public Map<String, Integer> countsByHost(Database db) {
    Map<String, Integer> counts = new HashMap<>();
    db.query("SELECT host_id, count(*) FROM vms WHERE host_id IS NOT NULL"
                + " AND state NOT IN ('ARCHIVED', 'DELETED', 'FAILED') GROUP BY host_id",
            rs -> Map.entry(rs.getString(1), rs.getInt(2)))
        .forEach(e -> counts.put(e.getKey(), e.getValue()));
    return counts;
  }

  /** How many VMs each definition has that are neither deleted nor failed. */
  public Map<String, Integer> countsByDefinition(Database db) {
    Map<String, Integer> counts = new HashMap<>();
    db.query("SELECT definition, count(*) FROM vms WHERE state NOT IN ('DELETED', 'FAILED')"
                + " GROUP BY definition",
            rs -> Map.entry(rs.getString(1), rs.getInt(2)))
        .forEach(e -> counts.put(e.getKey(), e.getValue()));
    return counts;
  }
}
