package org.servicefarm.controller.db;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * Reads of {@code gateway_ports}, the stable port every service has on the farm's gateways (the
 * database chooses it when a {@code services} row is inserted; see V12), and of the routing table
 * the gateways keep: each defined service, its port, and the ACTIVE VMs that offer it.
 */
public final class GatewayRouteQueries {

  /** An ACTIVE VM offering the service, and where its host forwards the service's port. */
  public record Backend(UUID vmId, String host, int port) {}

  /**
   * One defined service as a gateway routes it, with its definition's max_leases_per_vm (0:
   * none), which a gateway's connections to one VM are held to.
   */
  public record Route(String service, int gatewayPort, List<Backend> active, int sleepingVms,
      int archivedVms, int maxLeasesPerVm) {}

  /** The gateway port of every defined service, by name (services without one are absent). */
  public Map<String, Integer> ports(Database db) {
    Map<String, Integer> ports = new LinkedHashMap<>();
    for (Object[] row : db.query("SELECT s.name, g.port FROM services s"
        + " JOIN gateway_ports g ON g.service = s.name ORDER BY s.name",
        rs -> new Object[] {rs.getString(1), rs.getInt(2)})) {
      ports.put((String) row[0], (Integer) row[1]);
    }
    return ports;
  }

  /** The gateway port of one service, whether or not it is defined now. */
  public Optional<Integer> portOf(Database db, String service) {
    return db.queryOne("SELECT port FROM gateway_ports WHERE service = ?", rs -> rs.getInt(1),
        service);
  }

  /**
   * The whole routing table in one statement. A VM counts as a backend only while it is ACTIVE
   * and meant to stay so, with a forwarded port on a known host: one the idle ladder or an admin
   * is putting to sleep takes no new connections.
   */
  public List<Route> routes(Database db) {
    record Row(String service, int port, UUID vmId, String state, String desired, String host,
        Integer hostPort, int maxLeasesPerVm) {}
    List<Row> rows = db.query(
        "SELECT s.name, g.port, v.id, v.state, v.desired_state, h.address, vs.host_port,"
            + " d.max_leases_per_vm"
            + " FROM services s JOIN gateway_ports g ON g.service = s.name"
            + " JOIN service_definitions d ON d.name = s.definition"
            + " LEFT JOIN vm_services vs ON vs.service = s.name"
            + " LEFT JOIN vms v ON v.id = vs.vm_id AND v.state IN ('ACTIVE', 'SLEEPING', 'ARCHIVED')"
            + " AND v.desired_state <> 'DELETED'"
            + " LEFT JOIN hosts h ON h.id = v.host_id"
            + " ORDER BY s.name, v.id",
        rs -> new Row(rs.getString(1), rs.getInt(2), Rows.uuid(rs, "id"), rs.getString(4),
            rs.getString(5), rs.getString(6), (Integer) rs.getObject(7), rs.getInt(8)));
    Map<String, Route> routes = new LinkedHashMap<>();
    for (Row r : rows) {
      Route before = routes.getOrDefault(r.service(),
          new Route(r.service(), r.port(), List.of(), 0, 0, r.maxLeasesPerVm()));
      List<Backend> active = before.active();
      int sleeping = before.sleepingVms();
      int archived = before.archivedVms();
      if (r.vmId() != null && r.state() != null) {
        switch (r.state()) {
          case "ACTIVE" -> {
            if ("ACTIVE".equals(r.desired()) && r.host() != null && r.hostPort() != null) {
              active = new ArrayList<>(active);
              active.add(new Backend(r.vmId(), r.host(), r.hostPort()));
            }
          }
          case "SLEEPING" -> sleeping++;
          default -> archived++;
        }
      }
      routes.put(r.service(), new Route(r.service(), r.port(), List.copyOf(active), sleeping,
          archived, r.maxLeasesPerVm()));
    }
    return List.copyOf(routes.values());
  }
}
