package org.servicefarm.controller.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgresForTests;
import org.servicefarm.controller.model.HostRecord.HostLoad;
import org.servicefarm.controller.model.HostRecord;

class HostViewTest {
  private final HostRepository hosts = new HostRepository();
  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private Database db;
  private HostView book;

  @BeforeEach
  void database() {
    db = new Database(EmbeddedPostgresForTests.freshDatabase(), EmbeddedPostgresForTests.user(),
        "", 2);
    Migrations.migrate(db.dataSource());
    book = new HostView(hosts, now::get);
  }

  @AfterEach
  void close() {
    db.close();
  }

  private void register(String id) {
    db.inTransaction(tx -> hosts.register(tx, id, "192.0.2.1", "test", 8, 8192, 100_000,
        HostLoad.NONE));
  }

  private Map<String, Integer> allocatedVcpus() {
    List<HostRecord> view = db.inTransaction(tx -> book.current(tx));
    return view.stream().collect(Collectors.toMap(HostRecord::id, HostRecord::allocatedVcpus));
  }

  @Test
  void placementsWithinASecondRankOnOneReadPlusWhatWasPlacedSince() {
    register("h1");
    assertEquals(Map.of("h1", 0), allocatedVcpus());
    register("h2"); // not read yet: the view is younger than a second
    book.placed("h1", 2, 512);
    book.placed("h1", 1, 256);
    assertEquals(Map.of("h1", 3), allocatedVcpus());

    now.addAndGet(HostView.MAX_AGE_NANOS + 1);
    // Read again: h2 appears; h1's placements still count, as their transactions might have
    // committed after this read began.
    assertEquals(Map.of("h1", 3, "h2", 0), allocatedVcpus());
    now.addAndGet(HostView.MAX_AGE_NANOS + 1);
    // A read later they are gone: any VM row of theirs would be in the table by now (none is).
    assertEquals(Map.of("h1", 0, "h2", 0), allocatedVcpus());
  }

  @Test
  void anInvalidatedViewIsReadAgainAtOnce() {
    register("h1");
    assertEquals(Map.of("h1", 0), allocatedVcpus());
    register("h2");
    book.invalidate();
    assertEquals(Map.of("h1", 0, "h2", 0), allocatedVcpus());
  }

  @Test
  void anInvalidatedViewCountsWhatTheTableHoldsNotRecentPlacementsTwice() {
    register("h1");
    assertEquals(Map.of("h1", 0), allocatedVcpus());
    book.placed("h1", 2, 512);
    now.addAndGet(HostView.MAX_AGE_NANOS + 1);
    assertEquals(Map.of("h1", 2), allocatedVcpus(), "still counted a read later");
    book.invalidate();
    assertEquals(Map.of("h1", 0), allocatedVcpus(),
        "the last try before 'no room' reads the table alone (no VM row here)");
  }
}
