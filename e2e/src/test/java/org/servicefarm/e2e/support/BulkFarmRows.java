package org.servicefarm.e2e.support;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.UUID;
import org.servicefarm.e2e.support.StandalonePostgres;

/**
 * Hosts and VMs written straight into a farm's database, for benchmarks at a scale no real agent
 * reaches here. Generated in SQL ({@code generate_series}), so 100,000 rows take seconds. Host
 * {@code i} is {@link #hostId}(i); VM {@code i} has id {@link #vmId}(i), offers service
 * {@link #SERVICE}, and lives on host {@code (i - 1) / vmsPerHost + 1}.
 */
public final class BulkFarmRows {
  public static final String SERVICE = "bench-web";
  public static final int GUEST_PORT = 8080;

  private BulkFarmRows() {}

  public static Connection connect(StandalonePostgres pg) throws SQLException {
    return DriverManager.getConnection(pg.jdbcUrl(), pg.user(), "");
  }

  public static String hostId(int i) {
    return String.format("sim-%05d", i);
  }

  /** The same id PostgreSQL's {@code md5('vm-' || i)::uuid} gives. */
  public static UUID vmId(int i) {
    try {
      String hex = HexFormat.of().formatHex(MessageDigest.getInstance("MD5")
          .digest(("vm-" + i).getBytes(StandardCharsets.UTF_8)));
      return UUID.fromString(hex.substring(0, 8) + "-" + hex.substring(8, 12) + "-"
          + hex.substring(12, 16) + "-" + hex.substring(16, 20) + "-" + hex.substring(20));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has MD5", e);
    }
  }

  /**
   * Writes one registered image and definition offering {@link #SERVICE}, {@code hosts} DOWN
   * hosts (an agent's registration brings one UP; no liveness clock runs for a DOWN host), and
   * {@code vms} VMs spread {@code vmsPerHost} a host. VM states cycle through {@code states},
   * each with the same desired state, so the reconciler finds nothing to do; an ARCHIVED VM has
   * no host and an archive reference, a DELETED one no host.
   */
  public static void write(Connection c, int hosts, int vms, int vmsPerHost, String... states)
      throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute("INSERT INTO images (id, name, sha256, size_bytes, format, build_state)"
          + " VALUES ('00000000-0000-0000-0000-00000000000b', 'bench-image', repeat('ab', 32),"
          + " 1048576, 'raw', 'READY')");
      s.execute("INSERT INTO service_definitions (name, image_id, vcpus, memory_mb) VALUES ('"
          + SERVICE + "', '00000000-0000-0000-0000-00000000000b', 1, 128)");
      s.execute("INSERT INTO services (name, definition, guest_port) VALUES ('" + SERVICE + "', '"
          + SERVICE + "', " + GUEST_PORT + ")");
    }
    try (PreparedStatement hostRows = c.prepareStatement(
        "INSERT INTO hosts (id, address, hypervisor, status, capacity_vcpus, capacity_memory_mb,"
            + " capacity_disk_mb) SELECT 'sim-' || lpad(i::text, 5, '0'), '127.0.0.1', 'test',"
            + " 'DOWN', 4096, 16777216, 100000000 FROM generate_series(1, ?) i")) {
      hostRows.setInt(1, hosts);
      hostRows.executeUpdate();
    }
    try (PreparedStatement vmRows = c.prepareStatement(
        "INSERT INTO vms (id, definition, image_id, host_id, state, desired_state, vcpus,"
            + " memory_mb, archive_ref)"
            + " SELECT md5('vm-' || i)::uuid, ?, '00000000-0000-0000-0000-00000000000b',"
            + "   CASE WHEN st IN ('ARCHIVED', 'DELETED') THEN NULL"
            + "     ELSE 'sim-' || lpad(((i - 1) / ? + 1)::text, 5, '0') END,"
            + "   st, st, 1, 128, CASE WHEN st = 'ARCHIVED' THEN 'archive/' || i END"
            + " FROM (SELECT i, (?::text[])[1 + i % ?] AS st FROM generate_series(1, ?) i) g")) {
      vmRows.setString(1, SERVICE);
      vmRows.setInt(2, vmsPerHost);
      vmRows.setArray(3, c.createArrayOf("text", states));
      vmRows.setInt(4, states.length);
      vmRows.setInt(5, vms);
      vmRows.executeUpdate();
    }
    try (Statement s = c.createStatement()) {
      // Only a running VM has its service's host port forwarded.
      s.execute("INSERT INTO vm_services (vm_id, service, guest_port, host_port)"
          + " SELECT id, definition, " + GUEST_PORT + ", CASE WHEN state = 'ACTIVE'"
          + " THEN 20000 + (('x' || substr(md5(id::text), 1, 4))::bit(16)::int % 20000) END FROM vms"
          + " WHERE definition = '" + SERVICE + "'");
      s.execute("ANALYZE");
    }
  }
}
