package org.servicefarm.controller.lifecycle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.HistoryRepository;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgresForTests;

/** History retention on a real database: what is past it goes, what is not stays. */
class HistoryPrunerTest {
  private static final Instant NOW = Instant.parse("2026-06-01T00:00:00Z");
  private Database db;

  @BeforeEach
  void farmWithHistory() {
    db = new Database(EmbeddedPostgresForTests.freshDatabase(), EmbeddedPostgresForTests.user(),
        "", 4);
    Migrations.migrate(db.dataSource());
    db.update("INSERT INTO images (id, name, sha256, size_bytes, format, build_state) VALUES"
        + " ('00000000-0000-0000-0000-00000000000b', 'img', repeat('ab', 32), 1, 'raw', 'READY')");
    db.update("INSERT INTO service_definitions (name, image_id, vcpus, memory_mb) VALUES"
        + " ('web', '00000000-0000-0000-0000-00000000000b', 1, 128)");
    // Deleted 40 days ago (past 30), deleted 10 days ago, and one archived 40 days ago.
    vm("00000000-0000-0000-0000-000000000001", "DELETED", null, 40);
    vm("00000000-0000-0000-0000-000000000002", "DELETED", null, 10);
    vm("00000000-0000-0000-0000-000000000003", "ARCHIVED", "archive/3", 40);
    db.update("INSERT INTO operations (id, kind, service, vm_id, state) VALUES"
        + " (gen_random_uuid(), 'REQUEST', 'web', '00000000-0000-0000-0000-000000000001',"
        + " 'SUCCEEDED')");
    db.update("INSERT INTO leases (id, vm_id, service, ttl_seconds, created_at, renewed_at,"
        + " expires_at) VALUES (gen_random_uuid(), '00000000-0000-0000-0000-000000000001', 'web',"
        + " 60, ?, ?, ?)", NOW.minus(Duration.ofDays(41)), NOW.minus(Duration.ofDays(41)),
        NOW.minus(Duration.ofDays(40)));
    db.update("INSERT INTO events (at, kind, vm_id, cause) VALUES (?, 'VM_STATE',"
        + " '00000000-0000-0000-0000-000000000001', 'old'), (?, 'VM_STATE',"
        + " '00000000-0000-0000-0000-000000000002', 'recent')",
        NOW.minus(Duration.ofDays(100)), NOW.minus(Duration.ofDays(10)));
  }

  private void vm(String id, String state, String archiveRef, int daysAgo) {
    db.update("INSERT INTO vms (id, definition, image_id, state, desired_state, vcpus, memory_mb,"
        + " archive_ref, updated_at) VALUES (?::uuid, 'web', '00000000-0000-0000-0000-00000000000b',"
        + " ?, ?, 1, 128, ?, ?)", id, state, state, archiveRef, NOW.minus(Duration.ofDays(daysAgo)));
  }

  @AfterEach
  void stop() {
    db.close();
  }

  private long count(String sql) {
    return db.queryOne(sql, rs -> rs.getLong(1)).orElseThrow();
  }

  @Test
  void vmsDeletedLongerAgoThanTheRetentionGoWithTheirOperationsAndOldEventsGo() {
    long[] removed = new HistoryPruner(db, new HistoryRepository(), HistoryRetention.defaults(),
        Clock.fixed(NOW, ZoneOffset.UTC)).prune();
    assertArrayEquals(new long[] {1, 1}, removed);
    assertEquals(0, count("SELECT count(*) FROM vms WHERE id = '00000000-0000-0000-0000-000000000001'"));
    assertEquals(2, count("SELECT count(*) FROM vms"), "the recent DELETED and the ARCHIVED stay");
    assertEquals(0, count("SELECT count(*) FROM operations"));
    assertEquals(0, count("SELECT count(*) FROM leases"));
    assertEquals(1, count("SELECT count(*) FROM events WHERE cause = 'recent'"));
    assertEquals(1, count("SELECT count(*) FROM events"));
  }

  @Test
  void listingWithoutDeletedVmsLeavesOutOnlyTheDeletedOnes() {
    org.servicefarm.controller.db.VmListings queries = new org.servicefarm.controller.db.VmListings(
        new org.servicefarm.controller.db.VmRepository(
            new org.servicefarm.controller.db.EventRepository()),
        new org.servicefarm.controller.db.LeaseRepository());
    assertEquals(java.util.List.of("00000000-0000-0000-0000-000000000003"),
        queries.list(db, null, null, null, true, 10, null).vms().stream()
            .map(v -> v.vm().id().toString()).toList());
    assertEquals(3, queries.list(db, null, null, null, false, 10, null).vms().size());
    assertEquals("00000000-0000-0000-0000-000000000003",
        queries.recent(db, 10).get(0).vm().id().toString(), "the VM that exists comes first");
  }

  @Test
  void aRetentionOfZeroKeepsEverything() {
    long[] removed = new HistoryPruner(db, new HistoryRepository(),
        new HistoryRetention(Duration.ZERO, Duration.ZERO), Clock.fixed(NOW, ZoneOffset.UTC))
        .prune();
    assertArrayEquals(new long[] {0, 0}, removed);
    assertEquals(3, count("SELECT count(*) FROM vms"));
    assertEquals(2, count("SELECT count(*) FROM events"));
  }
}
