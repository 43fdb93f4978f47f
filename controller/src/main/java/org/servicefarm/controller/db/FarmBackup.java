package org.servicefarm.controller.db;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import javax.sql.DataSource;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;

/**
 * A farm's database as one file: every table of the schema (catalog, hosts, VMs, leases,
 * operations, events, tokens and whatever later migrations add) read in one snapshot, so the
 * file is consistent, plus the digests of every blob the rows refer to. The blobs themselves
 * stay in the blob store. Not in the file: the migration history (restoring migrates the new
 * database first) and the leadership row (a restored farm elects its leader anew).
 *
 * <p>The file is a zip: {@code manifest.properties} (format, schema version, row counts),
 * {@code blobs.txt} (one digest a line) and {@code tables/<table>.csv} (PostgreSQL's CSV with a
 * header line). Table and column names in COPY statements come from the database's own catalog
 * or from that header, quoted as identifiers: COPY takes no parameters.
 */
public final class FarmBackup {
  public static final String FORMAT = "servicefarm-backup-1";
  private static final Set<String> NOT_BACKED_UP =
      Set.of("flyway_schema_history", "controller_leadership");
  /**
   * Rows a migration seeds into every database (the project 'default'): a new database holds
   * them, and the backup's own copy replaces them.
   */
  private static final java.util.Map<String, String> SEEDED =
      java.util.Map.of("projects", "name = 'default'");
  private static final String TABLE_ENTRY = "tables/";

  /** What a backup holds: the schema version it was taken at, rows per table, blob digests. */
  public record Contents(String schemaVersion, Map<String, Long> rows, List<String> blobs) {}

  private FarmBackup() {}

  /** Writes the database to {@code out} from one REPEATABLE READ snapshot; returns its contents. */
  public static Contents write(DataSource source, OutputStream out) throws SQLException,
      IOException {
    try (Connection c = source.getConnection()) {
      c.setAutoCommit(false);
      c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
      c.setReadOnly(true);
      String version = schemaVersion(c);
      Map<String, Long> rows = new LinkedHashMap<>();
      List<String> blobs = referencedBlobs(c);
      CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
      ZipOutputStream zip = new ZipOutputStream(out, StandardCharsets.UTF_8);
      for (String table : tablesInLoadOrder(c)) {
        zip.putNextEntry(new ZipEntry(TABLE_ENTRY + table + ".csv"));
        rows.put(table, copy.copyOut("COPY (SELECT * FROM " + quoted(table)
            + ") TO STDOUT (FORMAT csv, HEADER true)", zip));
        zip.closeEntry();
      }
      zip.putNextEntry(new ZipEntry("blobs.txt"));
      zip.write((String.join("\n", blobs) + (blobs.isEmpty() ? "" : "\n"))
          .getBytes(StandardCharsets.UTF_8));
      zip.closeEntry();
      Contents contents = new Contents(version, rows, blobs);
      zip.putNextEntry(new ZipEntry("manifest.properties"));
      manifest(contents).store(zip, "Service Farm backup");
      zip.closeEntry();
      zip.finish();
      c.commit();
      return contents;
    }
  }

  /** Reads what a backup file holds, refusing a file that is not one. */
  public static Contents read(Path file) throws IOException {
    try (ZipFile zip = new ZipFile(file.toFile())) {
      ZipEntry entry = zip.getEntry("manifest.properties");
      if (entry == null) {
        throw new IOException(file + " is not a Service Farm backup (no manifest.properties)");
      }
      Properties manifest = new Properties();
      try (InputStream in = zip.getInputStream(entry)) {
        manifest.load(in);
      }
      if (!FORMAT.equals(manifest.getProperty("format"))) {
        throw new IOException(file + " is a backup of format '" + manifest.getProperty("format")
            + "', not " + FORMAT);
      }
      Map<String, Long> rows = new LinkedHashMap<>();
      for (String table : manifest.getProperty("tables", "").split(",")) {
        if (!table.isEmpty()) {
          rows.put(table, Long.parseLong(manifest.getProperty("rows." + table, "0")));
        }
      }
      List<String> blobs = new ArrayList<>();
      ZipEntry blobList = zip.getEntry("blobs.txt");
      if (blobList != null) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(
            zip.getInputStream(blobList), StandardCharsets.UTF_8))) {
          in.lines().filter(line -> !line.isBlank()).forEach(blobs::add);
        }
      }
      return new Contents(manifest.getProperty("schema_version"), rows, blobs);
    }
  }

  /** The schema version the database is at now (its newest applied migration). */
  public static String schemaVersion(Connection c) throws SQLException {
    try (PreparedStatement s = c.prepareStatement("SELECT version FROM flyway_schema_history"
        + " WHERE success AND version IS NOT NULL ORDER BY installed_rank DESC LIMIT 1");
        ResultSet rs = s.executeQuery()) {
      if (!rs.next()) {
        throw new SQLException("the database has no applied migrations: it holds no farm");
      }
      return rs.getString(1);
    }
  }

  /**
   * Loads a backup into a database at the same schema version that holds no farm yet, in one
   * transaction (all or nothing); sequences continue after the restored rows.
   */
  public static Contents restore(DataSource target, Path file) throws SQLException, IOException {
    Contents contents = read(file);
    try (Connection c = target.getConnection(); ZipFile zip = new ZipFile(file.toFile())) {
      c.setAutoCommit(false);
      String version = schemaVersion(c);
      if (!version.equals(contents.schemaVersion())) {
        throw new SQLException("the backup is of schema version " + contents.schemaVersion()
            + " and this database is at version " + version + "; restore with the release that"
            + " took the backup, then start this one, which migrates the database");
      }
      List<String> tables = tablesInLoadOrder(c);
      requireNoFarm(c, tables);
      CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
      for (String table : tables) {
        ZipEntry entry = zip.getEntry(TABLE_ENTRY + table + ".csv");
        if (entry == null) {
          continue; // a table the backed-up farm had no rows for (same version: it had none)
        }
        if (SEEDED.containsKey(table)) {
          try (PreparedStatement s = c.prepareStatement("DELETE FROM " + quoted(table)
              + " WHERE " + SEEDED.get(table))) {
            s.executeUpdate();
          }
        }
        load(copy, table, zip, entry);
        restartSequences(c, table);
      }
      c.commit();
      return contents;
    }
  }

  private static void load(CopyManager copy, String table, ZipFile zip, ZipEntry entry)
      throws SQLException, IOException {
    String header;
    try (BufferedReader in = new BufferedReader(new InputStreamReader(zip.getInputStream(entry),
        StandardCharsets.UTF_8))) {
      header = in.readLine();
    }
    if (header == null || header.isBlank()) {
      return;
    }
    // The header names the columns in the file's order; the database may order them otherwise.
    List<String> columns = new ArrayList<>();
    for (String name : header.split(",", -1)) {
      columns.add(quoted(name.startsWith("\"") && name.endsWith("\"") && name.length() >= 2
          ? name.substring(1, name.length() - 1).replace("\"\"", "\"") : name));
    }
    try (InputStream in = zip.getInputStream(entry)) {
      copy.copyIn("COPY " + quoted(table) + " (" + String.join(", ", columns)
          + ") FROM STDIN (FORMAT csv, HEADER true)", in);
    }
  }

  private static void requireNoFarm(Connection c, List<String> tables) throws SQLException {
    List<String> occupied = new ArrayList<>();
    for (String table : tables) {
      String seeded = SEEDED.containsKey(table) ? " WHERE NOT (" + SEEDED.get(table) + ")" : "";
      try (PreparedStatement s = c.prepareStatement("SELECT count(*) FROM " + quoted(table)
          + seeded);
          ResultSet rs = s.executeQuery()) {
        rs.next();
        if (rs.getLong(1) > 0) {
          occupied.add(table + " (" + rs.getLong(1) + " rows)");
        }
      }
    }
    if (!occupied.isEmpty()) {
      throw new SQLException("the database already holds a farm: " + String.join(", ", occupied)
          + "; restore only into a new, empty database");
    }
  }

  private static void restartSequences(Connection c, String table) throws SQLException {
    List<String[]> serials = new ArrayList<>();
    try (PreparedStatement s = c.prepareStatement("SELECT a.attname,"
        + " pg_get_serial_sequence(quote_ident(?), a.attname) FROM pg_attribute a"
        + " WHERE a.attrelid = to_regclass(quote_ident(?)) AND a.attnum > 0"
        + " AND NOT a.attisdropped")) {
      s.setString(1, table);
      s.setString(2, table);
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          if (rs.getString(2) != null) {
            serials.add(new String[] {rs.getString(1), rs.getString(2)});
          }
        }
      }
    }
    for (String[] serial : serials) {
      try (PreparedStatement s = c.prepareStatement("SELECT setval(?, COALESCE((SELECT max("
          + quoted(serial[0]) + ") FROM " + quoted(table) + "), 0) + 1, false)")) {
        s.setString(1, serial[1]);
        s.execute();
      }
    }
  }

  /** Digests of every blob a row refers to: image disks, kernels, initrds, VM archives. */
  private static List<String> referencedBlobs(Connection c) throws SQLException {
    Set<String> blobs = new TreeSet<>();
    try (PreparedStatement s = c.prepareStatement("SELECT sha256 FROM images WHERE sha256 IS NOT"
        + " NULL UNION SELECT kernel_sha256 FROM images WHERE kernel_sha256 IS NOT NULL"
        + " UNION SELECT initrd_sha256 FROM images WHERE initrd_sha256 IS NOT NULL"
        + " UNION SELECT base_layer_sha256 FROM images WHERE base_layer_sha256 IS NOT NULL"
        + " UNION SELECT substring(archive_ref FROM 8) FROM vms WHERE archive_ref LIKE ?")) {
      s.setString(1, "sha256:%");
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          blobs.add(rs.getString(1));
        }
      }
    }
    return List.copyOf(blobs);
  }

  /** The schema's tables, each after the tables its foreign keys point to. */
  private static List<String> tablesInLoadOrder(Connection c) throws SQLException {
    Set<String> tables = new TreeSet<>();
    try (PreparedStatement s = c.prepareStatement("SELECT c.relname FROM pg_class c"
        + " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
        + " AND c.relkind IN ('r', 'p') AND NOT c.relispartition");
        ResultSet rs = s.executeQuery()) {
      while (rs.next()) {
        tables.add(rs.getString(1));
      }
    }
    tables.removeAll(NOT_BACKED_UP);
    Map<String, Set<String>> dependsOn = new LinkedHashMap<>();
    tables.forEach(t -> dependsOn.put(t, new TreeSet<>()));
    try (PreparedStatement s = c.prepareStatement("SELECT c.relname, f.relname FROM pg_constraint k"
        + " JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class f ON f.oid = k.confrelid"
        + " JOIN pg_namespace n ON n.oid = c.relnamespace"
        + " WHERE k.contype = 'f' AND n.nspname = current_schema()");
        ResultSet rs = s.executeQuery()) {
      while (rs.next()) {
        String from = rs.getString(1);
        String to = rs.getString(2);
        if (!from.equals(to) && dependsOn.containsKey(from) && dependsOn.containsKey(to)) {
          dependsOn.get(from).add(to);
        }
      }
    }
    List<String> order = new ArrayList<>();
    while (!dependsOn.isEmpty()) {
      String next = dependsOn.entrySet().stream()
          .filter(e -> order.containsAll(e.getValue())).map(Map.Entry::getKey).findFirst()
          .orElseThrow(() -> new SQLException("the foreign keys among " + dependsOn.keySet()
              + " form a cycle; no load order exists"));
      order.add(next);
      dependsOn.remove(next);
    }
    return order;
  }

  private static Properties manifest(Contents contents) {
    Properties p = new Properties();
    p.setProperty("format", FORMAT);
    p.setProperty("schema_version", contents.schemaVersion());
    p.setProperty("created_at", Instant.now().toString());
    p.setProperty("tables", String.join(",", contents.rows().keySet()));
    contents.rows().forEach((table, n) -> p.setProperty("rows." + table, Long.toString(n)));
    p.setProperty("blobs", Integer.toString(contents.blobs().size()));
    return p;
  }

  private static String quoted(String identifier) {
    return "\"" + identifier.replace("\"", "\"\"") + "\"";
  }
}
