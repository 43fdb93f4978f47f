package org.servicefarm.e2e.process;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.servicefarm.e2e.support.HostDomains;

/**
 * What a soak looks for once the load has stopped: everything the farm holds outside its own
 * tables (libvirt domains, files on the hosts, blobs, database sessions, file descriptors) must
 * be accounted for by a row, and nothing may be left half-way.
 */
final class SoakChecks {
  private static final Pattern UUID_IN_NAME =
      Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
  private static final Set<String> ON_A_HOST = Set.of("ACTIVE", "SLEEPING");
  private static final Set<String> SETTLED =
      Set.of("ACTIVE", "SLEEPING", "ARCHIVED", "DELETED", "FAILED");
  private static final Path SAVE_DIR = Path.of("/var/lib/libvirt/qemu/save");

  private final String jdbcUrl;
  private final String user;

  SoakChecks(String jdbcUrl, String user) {
    this.jdbcUrl = jdbcUrl;
    this.user = user;
  }

  /** One VM row: its state and where it lives. */
  record VmRow(String id, String state, String hostId, String archiveRef) {}

  List<VmRow> vms() throws SQLException {
    List<VmRow> rows = new ArrayList<>();
    try (Connection c = connect();
        PreparedStatement s = c.prepareStatement(
            "SELECT id::text, state, host_id, archive_ref FROM vms ORDER BY id");
        ResultSet rs = s.executeQuery()) {
      while (rs.next()) {
        rows.add(new VmRow(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)));
      }
    }
    return rows;
  }

  /** VMs in a state the farm passes through (starting, archiving, restoring, ...) or UNKNOWN. */
  List<String> unsettled() throws SQLException {
    return vms().stream().filter(v -> !SETTLED.contains(v.state()))
        .map(v -> v.id() + " " + v.state()).toList();
  }

  /** Farm domains on the host with no VM row placing a running or sleeping VM there. */
  List<String> leakedDomains(String hostId) throws Exception {
    Set<String> expected = new HashSet<>();
    for (VmRow vm : vms()) {
      if (ON_A_HOST.contains(vm.state()) && hostId.equals(vm.hostId())) {
        expected.add("sf-" + vm.id());
      }
    }
    List<String> leaked = new ArrayList<>(HostDomains.of(hostId));
    leaked.removeAll(expected);
    return leaked;
  }

  /** Running or sleeping VMs of the host whose domain libvirt does not know. */
  List<String> missingDomains(String hostId) throws Exception {
    List<String> domains = HostDomains.of(hostId);
    return vms().stream()
        .filter(vm -> ON_A_HOST.contains(vm.state()) && hostId.equals(vm.hostId()))
        .map(vm -> "sf-" + vm.id()).filter(name -> !domains.contains(name)).toList();
  }

  /**
   * Files of the host's state directory (disks, archives, consoles) and libvirt's managed-save
   * images that name one of the farm's VMs which is not running or sleeping on that host: an
   * archived or deleted VM leaves nothing on a host, and a VM that is not asleep no save image.
   */
  List<String> leakedFiles(String hostId, Path stateDir) throws Exception {
    Map<String, VmRow> byId = new HashMap<>();
    vms().forEach(vm -> byId.put(vm.id(), vm));
    List<String> leaked = new ArrayList<>();
    try (Stream<Path> files = Files.walk(stateDir)) {
      for (Path file : files.toList()) {
        // The VM's id names the file or a directory above it (archives/<vm id>/ref).
        Matcher m = UUID_IN_NAME.matcher(stateDir.relativize(file).toString());
        VmRow vm = m.find() ? byId.get(m.group()) : null;
        if (vm != null && !(ON_A_HOST.contains(vm.state()) && hostId.equals(vm.hostId()))) {
          leaked.add(stateDir.relativize(file) + " (VM " + vm.state() + ")");
        }
      }
    }
    for (VmRow vm : byId.values()) {
      Path save = SAVE_DIR.resolve("sf-" + vm.id() + ".save");
      if (!"SLEEPING".equals(vm.state()) && Files.exists(save)) {
        leaked.add(save + " (VM " + vm.state() + ")");
      }
    }
    return leaked;
  }

  /** How many times a VM entered each state, from the VM_STATE events. */
  Map<String, Long> transitions() throws SQLException {
    Map<String, Long> counts = new java.util.TreeMap<>();
    try (Connection c = connect();
        PreparedStatement s = c.prepareStatement("SELECT to_state, count(*) FROM events"
            + " WHERE kind = 'VM_STATE' GROUP BY to_state");
        ResultSet rs = s.executeQuery()) {
      while (rs.next()) {
        counts.put(rs.getString(1), rs.getLong(2));
      }
    }
    return counts;
  }

  /** Live leases (neither released nor expired) in the farm's table. */
  Set<String> liveLeases() throws SQLException {
    Set<String> ids = new TreeSet<>();
    try (Connection c = connect();
        PreparedStatement s = c.prepareStatement("SELECT id::text FROM leases"
            + " WHERE released_at IS NULL AND expires_at > now()");
        ResultSet rs = s.executeQuery()) {
      while (rs.next()) {
        ids.add(rs.getString(1));
      }
    }
    return ids;
  }

  /** The blobs in a local blob store directory: its files named by a digest. */
  static Set<String> storedBlobs(Path blobDir) throws IOException {
    Set<String> digests = new TreeSet<>();
    try (Stream<Path> files = Files.list(blobDir)) {
      files.map(p -> p.getFileName().toString()).filter(n -> SHA256.matcher(n).matches())
          .forEach(digests::add);
    }
    return digests;
  }

  /**
   * Digests a row refers to: images (disk, kernel, initrd, base layer), base layers (disk, tree,
   * kernel, initrd) and VMs' archives.
   */
  Set<String> referencedBlobs() throws SQLException {
    Set<String> digests = new TreeSet<>();
    try (Connection c = connect();
        PreparedStatement s = c.prepareStatement("SELECT sha256 FROM images WHERE sha256 IS NOT"
            + " NULL UNION SELECT kernel_sha256 FROM images WHERE kernel_sha256 IS NOT NULL"
            + " UNION SELECT initrd_sha256 FROM images WHERE initrd_sha256 IS NOT NULL"
            + " UNION SELECT base_layer_sha256 FROM images WHERE base_layer_sha256 IS NOT NULL"
            + " UNION SELECT disk_sha256 FROM base_layers UNION SELECT tree_sha256 FROM base_layers"
            + " UNION SELECT kernel_sha256 FROM base_layers"
            + " UNION SELECT initrd_sha256 FROM base_layers"
            + " UNION SELECT substring(archive_ref FROM 8) FROM vms WHERE archive_ref LIKE ?")) {
      s.setString(1, "sha256:%");
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          digests.add(rs.getString(1));
        }
      }
    }
    return digests;
  }

  /** Sessions open on the farm's database, other than the one asking. */
  long databaseSessions() throws SQLException {
    try (Connection c = connect();
        PreparedStatement s = c.prepareStatement("SELECT count(*) FROM pg_stat_activity"
            + " WHERE datname = current_database() AND pid <> pg_backend_pid()");
        ResultSet rs = s.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** File descriptors the process holds open now. */
  static long openFileDescriptors(long pid) throws IOException {
    try (Stream<Path> fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
      return fds.count();
    }
  }

  private Connection connect() throws SQLException {
    return DriverManager.getConnection(jdbcUrl, user, "");
  }
}
