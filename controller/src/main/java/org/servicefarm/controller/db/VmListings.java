package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmServiceRecord;
import org.servicefarm.controller.model.VmState;

/**
 * What operators and clients list of the VMs (the admin API, the dashboard, metrics): pages,
 * views with offers and leases, and counts. Read-only and without locks. The VM rows' writes are
 * {@link VmRepository}'s; the request method's reads are {@link RequestRoutes}'.
 */
public final class VmListings {
  private final VmRepository vmRepository;
  private final LeaseRepository leases;

  public VmListings(VmRepository vmRepository, LeaseRepository leases) {
    this.vmRepository = vmRepository;
    this.leases = leases;
  }

  /** A VM with the services it offers, its live leases and when it was last used. */
  public record VmView(VmRecord vm, List<VmServiceRecord> offers, String hostAddress,
      int liveLeases, Instant lastUsedAt) {}


  /** One page of VMs and the token for the next one (null at the end). */
  public record Page(List<VmView> vms, String nextPageToken) {}
  /** Filters are ignored when null; pages are ordered by VM id. */
  public Page list(Database db, VmState state, String hostId, String service,
      boolean excludeDeleted, int pageSize, UUID after) {
    return list(db, state, hostId, service, excludeDeleted, pageSize, after, null);
  }

  /** As above, only the VMs of {@code project} (null: of every project). */
  public Page list(Database db, VmState state, String hostId, String service,
      boolean excludeDeleted, int pageSize, UUID after, String project) {
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
                      + " AND (?::text IS NULL OR v.project = ?::text)"
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
                  project,
                  project,
                  pageSize + 1);
          boolean more = vms.size() > pageSize;
          List<VmRecord> page = more ? vms.subList(0, pageSize) : vms;
          List<VmView> views = views(tx, page);
          String next = more ? page.get(page.size() - 1).id().toString() : null;
          return new Page(views, next);
        });
  }

  /** Where a VM's service is reached: the host's address and the forwarded port, each maybe null. */
  public record ServiceAccess(String hostAddress, Integer hostPort) {}

  /**
   * The VM's access to one service in one statement (the answer to a request that waited: no
   * other VM, host or lease is read); empty when the VM does not offer it.
   */
  public java.util.Optional<ServiceAccess> serviceAccess(Database.Tx tx, UUID vmId, String service)
      throws SQLException {
    return tx.queryOne(
        "SELECT h.address, s.host_port FROM vm_services s JOIN vms v ON v.id = s.vm_id"
            + " LEFT JOIN hosts h ON h.id = v.host_id WHERE s.vm_id = ? AND s.service = ?",
        rs -> new ServiceAccess(rs.getString(1), Rows.nullableInt(rs, "host_port")),
        vmId, service);
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
    return offeredServices(db, null);
  }

  /** As above, only the VMs of {@code project} (null: of every project). */
  public List<OfferedService> offeredServices(Database db, String project) {
    return db.query(
        "SELECT vs.service, v.definition, v.id, v.state FROM vm_services vs"
            + " JOIN vms v ON v.id = vs.vm_id WHERE v.state NOT IN ('DELETED', 'FAILED')"
            + " AND v.desired_state <> 'DELETED' AND (?::text IS NULL OR v.project = ?::text)"
            + " ORDER BY vs.service, v.id",
        rs ->
            new OfferedService(
                rs.getString(1), rs.getString(2), Rows.uuid(rs, "id"),
                VmState.valueOf(rs.getString(4))),
        project,
        project);
  }

  /** How many VMs are in each state (states with none are absent), DELETED included. */
  public static Map<VmState, Integer> countsByState(Database db) {
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
