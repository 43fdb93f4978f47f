package org.servicefarm.controller.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.db.AuditRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgresForTests;
import org.servicefarm.controller.model.AuditRecord;

/** The trail's bound on refused calls and its retention, on a real database. */
class AuditTrailTest {
  private Database db;
  private final AuditRepository records = new AuditRepository();
  private Instant now = Instant.parse("2026-01-01T00:00:00Z");
  private final Clock clock = new Clock() {
    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  };
  private AuditTrail trail;

  @BeforeEach
  void freshDatabase() {
    db = new Database(EmbeddedPostgresForTests.freshDatabase(), EmbeddedPostgresForTests.user(), "", 4);
    Migrations.migrate(db.dataSource());
    trail = new AuditTrail(db, records, clock, Duration.ofDays(30));
  }

  @AfterEach
  void close() {
    db.close();
  }

  private static AuditRecord denied(UUID token, String name, String peer) {
    return AuditRecord.unsaved(null, token == null ? "anonymous" : "token", token, name, peer,
        "servicefarm.v1.TokenAdmin/ListTokens", "", "PERMISSION_DENIED", "needs role admin", 1);
  }

  private List<AuditRecord> all() {
    return records.page(db, null, null, 0, 1000);
  }

  @Test
  void tenThousandRefusalsFromOneTokenAreOneRecordAndOneSummaryPerWindow() {
    UUID token = UUID.randomUUID();
    for (int i = 0; i < 10_000; i++) {
      trail.refused(denied(token, "flooder", "10.0.0.9:" + (40000 + i % 1000)));
    }
    assertEquals(1, all().size(), "the first refusal only, while the window lasts");

    now = now.plus(AuditTrail.WINDOW);
    trail.flushEndedWindow();
    List<AuditRecord> rows = all();
    assertEquals(2, rows.size(), rows.toString());
    assertEquals(9_999, rows.get(1).callCount());
    assertEquals("flooder", rows.get(1).caller());

    // The next window starts over: its first refusal is a record of its own again.
    trail.refused(denied(token, "flooder", "10.0.0.9:1"));
    assertEquals(3, all().size());
  }

  @Test
  void manyCallersInOneWindowShareOneSummaryBeyondTheBound() {
    for (int i = 0; i < AuditTrail.MAX_CALLERS_PER_WINDOW + 500; i++) {
      trail.refused(denied(null, "unknown token", "10.1." + (i / 250) + "." + (i % 250) + ":5000"));
    }
    trail.flush();
    List<AuditRecord> rows = all();
    assertEquals(AuditTrail.MAX_CALLERS_PER_WINDOW + 1, rows.size());
    AuditRecord others = rows.get(rows.size() - 1);
    assertEquals(500, others.callCount(), "every refusal past the bound, counted together");
    assertTrue(others.caller().startsWith("callers beyond"), others.caller());
  }

  @Test
  void recordsOlderThanTheRetentionArePruned() {
    records.append(db, AuditRecord.unsaved(now.minus(Duration.ofDays(31)), "anonymous", null,
        "old", "p", "m", "", "OK", "", 1));
    records.append(db, AuditRecord.unsaved(now.minus(Duration.ofDays(1)), "anonymous", null,
        "recent", "p", "m", "", "OK", "", 1));
    trail.prune();
    assertEquals(List.of("recent"), all().stream().map(AuditRecord::caller).toList());
  }
}
