package org.servicefarm.controller.db;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.controller.db.embedded.EmbeddedPostgresForTests;

/** A farm's database backed up while written to, and restored into a new, empty database. */
class FarmBackupTest {
  private static final String DISK = "a".repeat(64);
  private static final String KERNEL = "b".repeat(64);
  private static final String INITRD = "c".repeat(64);
  private static final String ARCHIVE = "d".repeat(64);

  @TempDir Path dir;
  private final List<Database> opened = new ArrayList<>();

  @AfterEach
  void close() {
    opened.forEach(Database::close);
  }

  @Test
  void aRestoredDatabaseHoldsEveryRowOfTheBackupAndItsSequencesGoOn() throws Exception {
    Database source = migratedDatabase();
    UUID archived = seedFarm(source);
    Path file = dir.resolve("farm.backup");

    FarmBackup.Contents written;
    try (OutputStream out = Files.newOutputStream(file)) {
      written = FarmBackup.write(dataSource(source), out);
    }
    assertEquals(List.of(DISK, KERNEL, INITRD, ARCHIVE).stream().sorted().toList(),
        written.blobs(), "every blob the rows refer to");
    assertEquals(written, FarmBackup.read(file));
    assertTrue(!written.rows().containsKey("controller_leadership")
        && !written.rows().containsKey("flyway_schema_history"));
    // Tables come after those their foreign keys point to.
    List<String> order = List.copyOf(written.rows().keySet());
    assertTrue(order.indexOf("images") < order.indexOf("service_definitions")
        && order.indexOf("hosts") < order.indexOf("vms")
        && order.indexOf("vms") < order.indexOf("leases")
        && order.indexOf("leases") < order.indexOf("operations"), order.toString());

    Database target = new Database(EmbeddedPostgresForTests.freshDatabase(),
        EmbeddedPostgresForTests.user(), "", 2);
    opened.add(target);
    Migrations.migrateTo(target.dataSource(), written.schemaVersion());
    FarmBackup.restore(dataSource(target), file);

    for (String table : written.rows().keySet()) {
      assertEquals(dump(source, table), dump(target, table), "table " + table);
      assertEquals(written.rows().get(table), (long) dump(target, table).size(), table);
    }
    assertEquals("ARCHIVED", target.query("SELECT state FROM vms WHERE id = ?",
        rs -> rs.getString(1), archived).get(0));
    long before = target.query("SELECT max(id) FROM events", rs -> rs.getLong(1)).get(0);
    target.update("INSERT INTO events (kind, cause) VALUES ('HOST_STATUS', 'after restore')");
    assertTrue(target.query("SELECT max(id) FROM events", rs -> rs.getLong(1)).get(0) > before,
        "the events sequence continues after the restored rows");
  }

  @Test
  void aDatabaseThatHoldsAFarmIsNotRestoredInto() throws Exception {
    Database source = migratedDatabase();
    seedFarm(source);
    Path file = dir.resolve("farm.backup");
    try (OutputStream out = Files.newOutputStream(file)) {
      FarmBackup.write(dataSource(source), out);
    }
    SQLException e = assertThrows(SQLException.class,
        () -> FarmBackup.restore(dataSource(source), file));
    assertTrue(e.getMessage().startsWith("the database already holds a farm: ")
        && e.getMessage().contains("vms (2 rows)"), e.getMessage());
  }

  @Test
  void aFileThatIsNotABackupIsRefusedByName() throws IOException {
    Path file = Files.writeString(dir.resolve("notes.txt"), "not a zip");
    IOException e = assertThrows(IOException.class, () -> FarmBackup.read(file));
    assertTrue(e.getMessage().contains("zip") || e.getMessage().contains(file.toString()),
        e.getMessage());
  }

  private Database migratedDatabase() {
    Database db = new Database(EmbeddedPostgresForTests.freshDatabase(),
        EmbeddedPostgresForTests.user(), "", 2);
    opened.add(db);
    Migrations.migrate(db.dataSource());
    return db;
  }

  /** A small farm: a composed image, a definition, a host, an active and an archived VM. */
  private static UUID seedFarm(Database db) {
    UUID image = UUID.randomUUID();
    db.update("INSERT INTO images (id, name, sha256, size_bytes, format, input_hash, build_state,"
        + " kernel_sha256, initrd_sha256, kernel_cmdline) VALUES (?, 'composed-1', ?, 10,"
        + " 'qcow2', ?, 'READY', ?, ?, 'root=/dev/vda')", image, DISK, "e".repeat(64), KERNEL,
        INITRD);
    db.update("INSERT INTO service_definitions (name, image_id, packages, vcpus, memory_mb)"
        + " VALUES ('web', ?, '{busybox}', 1, 128)", image);
    db.update("INSERT INTO services (name, definition, guest_port) VALUES ('web', 'web', 80)");
    db.update("INSERT INTO hosts (id, address, hypervisor, status, capacity_vcpus,"
        + " capacity_memory_mb) VALUES ('host-1', '10.0.0.1', 'kvm', 'UP', 8, 8192)");
    UUID active = UUID.randomUUID();
    UUID archived = UUID.randomUUID();
    db.update("INSERT INTO vms (id, definition, image_id, host_id, state, desired_state, vcpus,"
        + " memory_mb) VALUES (?, 'web', ?, 'host-1', 'ACTIVE', 'ACTIVE', 1, 128)", active, image);
    db.update("INSERT INTO vms (id, definition, image_id, state, desired_state, vcpus, memory_mb,"
        + " archive_ref) VALUES (?, 'web', ?, 'ARCHIVED', 'ARCHIVED', 1, 128, ?)", archived, image,
        "sha256:" + ARCHIVE);
    db.update("INSERT INTO vm_services (vm_id, service, guest_port, host_port)"
        + " VALUES (?, 'web', 80, 20000)", active);
    UUID lease = UUID.randomUUID();
    db.update("INSERT INTO leases (id, vm_id, service, ttl_seconds, idempotency_key, expires_at)"
        + " VALUES (?, ?, 'web', 60, 'key-1', now() + interval '60 seconds')", lease, active);
    db.update("INSERT INTO operations (id, kind, service, vm_id, idempotency_key, state, phase,"
        + " progress_percent, lease_id) VALUES (?, 'REQUEST', 'web', ?, 'key-1', 'SUCCEEDED',"
        + " 'READY', 100, ?)", UUID.randomUUID(), active, lease);
    db.update("INSERT INTO events (kind, vm_id, service, from_state, to_state, cause)"
        + " VALUES ('VM_STATE', ?, 'web', 'STARTING', 'ACTIVE', 'booted')", active);
    db.update("INSERT INTO api_tokens (id, name, role, token_hash) VALUES (?, 'ci', 'client', ?)",
        UUID.randomUUID(), "f".repeat(64));
    return archived;
  }

  /** The database's own pool: backups and restores take one connection of it at a time. */
  private static DataSource dataSource(Database db) {
    return db.dataSource();
  }

  /** Every row of the table as text, in a fixed order. */
  private static List<String> dump(Database db, String table) {
    return db.query("SELECT t::text FROM " + table + " t ORDER BY t::text",
        rs -> rs.getString(1));
  }
}
