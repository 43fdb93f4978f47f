package org.servicefarm.controller.db;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.flywaydb.core.api.output.MigrateResult;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.db.embedded.EmbeddedPostgresForTests;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/** The schema on a real PostgreSQL: migrates from empty, and its constraints refuse bad states. */
class MigrationsTest {
  private Database db;

  @BeforeEach
  void freshDatabase() {
    db = new Database(EmbeddedPostgresForTests.freshDatabase(), EmbeddedPostgresForTests.user(), "", 4);
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void migratesAnEmptyDatabaseAndASecondStartIsANoOp() {
    MigrateResult first = Migrations.migrate(db.dataSource());
    assertTrue(first.migrationsExecuted >= 1);
    List<String> tables = db.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            + " AND table_name <> 'flyway_schema_history' ORDER BY table_name",
        rs -> rs.getString(1));
    assertEquals(List.of("api_tokens", "audit", "base_layers", "controller_leadership",
        "definition_constraints", "definition_spread", "events", "gateway_ports", "host_labels",
        "hosts", "images", "leases", "manifest_keys", "oci_images", "operations", "projects",
        "service_definitions", "services", "vm_services", "vms"), tables);
    MigrateResult second = Migrations.migrate(db.dataSource());
    assertEquals(0, second.migrationsExecuted);
  }

  @Test
  void servicesDefinedBeforeGatewayPortsGetOneAndLaterDefinitionsByAnyCodeToo() {
    Migrations.migrateTo(db.dataSource(), "10");
    UUID image = UUID.randomUUID();
    db.update("INSERT INTO images (id, name, sha256, format, build_state) VALUES (?, 'img', ?,"
        + " 'qcow2', 'READY')", image, "a".repeat(64));
    for (String name : List.of("old-b", "old-a")) {
      db.update("INSERT INTO service_definitions (name, image_id, vcpus, memory_mb)"
          + " VALUES (?, ?, 1, 256)", name, image);
      db.update("INSERT INTO services (name, definition, guest_port) VALUES (?, ?, 80)", name,
          name);
    }
    Migrations.migrate(db.dataSource());
    // A definition written by code that knows nothing of gateway ports still gets one.
    db.update("INSERT INTO service_definitions (name, image_id, vcpus, memory_mb)"
        + " VALUES ('new-c', ?, 1, 256)", image);
    db.update("INSERT INTO services (name, definition, guest_port) VALUES ('new-c', 'new-c', 80)");

    assertEquals(List.of("old-a 30000", "old-b 30001", "new-c 30002"), db.query(
        "SELECT service, port FROM gateway_ports ORDER BY port",
        rs -> rs.getString(1) + " " + rs.getInt(2)));
    db.update("INSERT INTO api_tokens (id, name, role, token_hash) VALUES (?, 'gw', 'gateway', ?)",
        UUID.randomUUID(), "b".repeat(64));
  }

  @Test
  void tokenRowsHoldOnlyAHashAndAKnownRole() {
    Migrations.migrate(db.dataSource());
    String insert = "INSERT INTO api_tokens (id, name, role, token_hash) VALUES (?, ?, ?, ?)";
    DatabaseException agentRole = assertThrows(DatabaseException.class, () -> db.update(insert,
        UUID.randomUUID(), "x", "agent", "a".repeat(64)));
    assertEquals(DatabaseException.Kind.CONSTRAINT, agentRole.kind());
    DatabaseException secretStored = assertThrows(DatabaseException.class, () -> db.update(
        insert, UUID.randomUUID(), "y", "client", "sf_" + "A".repeat(43)));
    assertEquals(DatabaseException.Kind.CONSTRAINT, secretStored.kind());
  }

  @Test
  void constraintsRefuseStatesTheCodeMustNeverStore() {
    Migrations.migrate(db.dataSource());
    UUID image = db.inTransaction(tx -> new ImageRepository()
        .register(tx, "base", "a".repeat(64), 1, "qcow2", null).id());
    db.update("INSERT INTO service_definitions (name, image_id, vcpus, memory_mb) VALUES ('web', ?, 1, 256)", image);
    // An ACTIVE VM must be on a host.
    DatabaseException noHost = assertThrows(DatabaseException.class, () -> db.update(
        "INSERT INTO vms (id, definition, image_id, state, desired_state, vcpus, memory_mb)"
            + " VALUES (?, 'web', ?, 'ACTIVE', 'ACTIVE', 1, 256)", UUID.randomUUID(), image));
    assertEquals(DatabaseException.Kind.CONSTRAINT, noHost.kind());
    // A FAILED VM must say why.
    assertThrows(DatabaseException.class, () -> db.update(
        "INSERT INTO vms (id, definition, image_id, state, desired_state, vcpus, memory_mb)"
            + " VALUES (?, 'web', ?, 'FAILED', 'ACTIVE', 1, 256)", UUID.randomUUID(), image));
    // States outside the state machine do not exist.
    assertThrows(DatabaseException.class, () -> db.update(
        "INSERT INTO vms (id, definition, image_id, state, desired_state, vcpus, memory_mb)"
            + " VALUES (?, 'web', ?, 'RUNNING', 'ACTIVE', 1, 256)", UUID.randomUUID(), image));
  }

  @Test
  void transitionsAreGuardedByTheExpectedStateAndRecordedAsEvents() {
    Migrations.migrate(db.dataSource());
    EventRepository events = new EventRepository();
    VmRepository vms = new VmRepository(events);
    UUID image = db.inTransaction(tx -> new ImageRepository()
        .register(tx, "base", "b".repeat(64), 1, "qcow2", null).id());
    db.update("INSERT INTO service_definitions (name, image_id, vcpus, memory_mb) VALUES ('web', ?, 1, 256)", image);
    db.update("INSERT INTO hosts (id, address, hypervisor, status, capacity_vcpus, capacity_memory_mb)"
        + " VALUES ('h1', '127.0.0.1', 'test', 'UP', 4, 4096)");
    VmRecord vm = db.inTransaction(tx -> vms.insertProvisioning(tx, "web", image, "h1", 1, 256, "test"));

    assertTrue(db.inTransaction(tx -> vms.transition(tx, vm.id(), Set.of(VmState.PROVISIONING),
        VmState.STARTING, "installed")).isPresent());
    // A late or repeated report that expects the old state changes nothing.
    assertTrue(db.inTransaction(tx -> vms.transition(tx, vm.id(), Set.of(VmState.PROVISIONING),
        VmState.STARTING, "installed again")).isEmpty());
    VmRecord wanted = db.inTransaction(tx -> vms.setDesired(tx, vm, DesiredState.SLEEPING, "admin"));
    assertEquals(vm.generation() + 1, wanted.generation());

    List<String> history = events.forVm(db, vm.id()).stream()
        .map(e -> e.kind() + ":" + e.fromState() + "->" + e.toState()).toList();
    assertEquals(List.of("VM_STATE:null->PROVISIONING", "VM_STATE:PROVISIONING->STARTING",
        "VM_DESIRED:ACTIVE->SLEEPING"), history);
  }

  @Test
  void leasesEndOnceAndDefinitionsKeepTheirLadderInOrder() {
    Migrations.migrate(db.dataSource());
    LeaseRepository leases = new LeaseRepository();
    UUID image = db.inTransaction(tx -> new ImageRepository()
        .register(tx, "base", "c".repeat(64), 1, "qcow2", null).id());
    db.update("INSERT INTO service_definitions (name, image_id, vcpus, memory_mb) VALUES ('web', ?, 1, 256)", image);
    db.update("INSERT INTO hosts (id, address, hypervisor, status, capacity_vcpus, capacity_memory_mb)"
        + " VALUES ('h1', '127.0.0.1', 'test', 'UP', 4, 4096)");
    VmRecord vm = db.inTransaction(tx -> new VmRepository(new EventRepository())
        .insertProvisioning(tx, "web", image, "h1", 1, 256, "test"));
    var lease = db.inTransaction(tx -> leases.grant(tx, vm.id(), "web", 30, java.time.Duration.ofSeconds(30), null));
    assertEquals(1, db.inTransaction(tx -> leases.usage(tx, List.of(vm.id()))).get(vm.id())
        .liveLeases());

    db.inTransaction(tx -> {
      leases.release(tx, lease.id());
      return null;
    });
    assertTrue(db.inTransaction(tx -> leases.renew(tx, lease.id(), 30)).isEmpty(),
        "a released lease is not renewed");
    assertEquals(0, db.inTransaction(tx -> leases.usage(tx, List.of(vm.id()))).get(vm.id())
        .liveLeases());
    // A lease is released only while it lasts, and lasts 1 s to an hour a term.
    assertThrows(DatabaseException.class, () -> db.update(
        "UPDATE leases SET released_at = expires_at + interval '1 second' WHERE id = ?", lease.id()));
    assertThrows(DatabaseException.class, () -> db.update(
        "UPDATE leases SET ttl_seconds = 3601 WHERE id = ?", lease.id()));
    // A warm pool within max_instances; each rung of the ladder after the one before.
    assertThrows(DatabaseException.class, () -> db.update(
        "UPDATE service_definitions SET min_active = 2, max_instances = 1 WHERE name = 'web'"));
    assertThrows(DatabaseException.class, () -> db.update(
        "UPDATE service_definitions SET sleep_after_seconds = 60, archive_after_seconds = 60"
            + " WHERE name = 'web'"));
  }
}
