package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmServiceRecord;
import org.servicefarm.controller.model.VmState;

/** Read-only views over the VM table for the request path and the admin API. */
public final class VmQueries {
  private final VmRepository vmRepository;

  public VmQueries(VmRepository vmRepository) {
    this.vmRepository = vmRepository;
  }

  /** An ACTIVE VM offering a service, with where to reach it and how loaded its host is. */
  public record Offer(
      UUID vmId, String hostId, String hostAddress, Integer hostPort, double hostCpuPercent,
      long hostAllocatedMemoryMb, VmState state) {}

  /** A VM with the services it offers. */
  public record VmView(VmRecord vm, List<VmServiceRecord> offers, String hostAddress) {}

  /** One page of VMs and the token for the next one (null at the end). */
  public record Page(List<VmView> vms, String nextPageToken) {}

  /** The warm path: one query, no writes. */
  public List<Offer> activeOffers(Database.Tx tx, String service) throws SQLException {
    return tx.query(
        "SELECT v.id, v.host_id, h.address, vs.host_port, h.load_cpu_percent, v.state,"
            + " (SELECT COALESCE(sum(o.memory_mb), 0) FROM vms o WHERE o.host_id = v.host_id"
            + "   AND o.state IN ('ACTIVE', 'STARTING', 'PROVISIONING', 'RESTORING')) AS allocated"
            + " FROM vm_services vs JOIN vms v ON v.id = vs.vm_id JOIN hosts h ON h.id = v.host_id"
            + " WHERE vs.service = ? AND v.state = 'ACTIVE' AND vs.host_port IS NOT NULL",
        rs ->
            new Offer(
                Rows.uuid(rs, "id"),
                rs.getString("host_id"),
                rs.getString("address"),
                Rows.nullableInt(rs, "host_port"),
                rs.getDouble("load_cpu_percent"),
                rs.getLong("allocated"),
                VmState.valueOf(rs.getString("state"))),
        service);
  }

  /** Filters are ignored when null; pages are ordered by VM id. */
  public Page list(
      Database db, VmState state, String hostId, String service, int pageSize, UUID after) {
    return db.inTransaction(
        tx -> {
          List<VmRecord> vms =
              tx.query(
                  "SELECT " + VmRepository.COLUMNS + " FROM vms v"
                      + " WHERE (?::text IS NULL OR v.state = ?::text)"
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
    // Offers and host addresses for the whole page in two queries, not two per VM.
    Map<UUID, List<VmServiceRecord>> offers = new HashMap<>();
    for (VmServiceRecord o : vmRepository.offers(tx, vms.stream().map(VmRecord::id).toList())) {
      offers.computeIfAbsent(o.vmId(), k -> new ArrayList<>()).add(o);
    }
    Map<String, String> addresses = new HashMap<>();
    for (String[] row :
        tx.query("SELECT id, address FROM hosts", rs -> new String[] {rs.getString(1), rs.getString(2)})) {
      addresses.put(row[0], row[1]);
    }
    List<VmView> views = new ArrayList<>();
    for (VmRecord vm : vms) {
      views.add(
          new VmView(
              vm, offers.getOrDefault(vm.id(), List.of()),
              vm.hostId() == null ? null : addresses.get(vm.hostId())));
    }
    return views;
  }

  /** Services offered now: per service, the VMs and their states. */
  public record OfferedService(String service, String definition, UUID vmId, VmState state) {}

  public List<OfferedService> offeredServices(Database db) {
    return db.query(
        "SELECT vs.service, v.definition, v.id, v.state FROM vm_services vs"
            + " JOIN vms v ON v.id = vs.vm_id WHERE v.state NOT IN ('DELETED', 'FAILED')"
            + " ORDER BY vs.service, v.id",
        rs ->
            new OfferedService(
                rs.getString(1), rs.getString(2), Rows.uuid(rs, "id"),
                VmState.valueOf(rs.getString(4))));
  }
}
