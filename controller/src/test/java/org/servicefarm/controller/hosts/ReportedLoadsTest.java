package org.servicefarm.controller.hosts;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.db.HostRepository.LoadRow;
import org.servicefarm.controller.model.HostRecord.HostLoad;

class ReportedLoadsTest {
  private static final Instant T0 = Instant.parse("2026-11-25T12:00:00Z");
  private static final HostLoad IDLE = new HostLoad(5, 1000, 8000, 1, 50_000);
  private static final HostLoad BUSY = new HostLoad(80, 6000, 8000, 3, 40_000);
  private final ReportedLoads book = new ReportedLoads(Duration.ofSeconds(10));

  @Test
  void anUnchangedLoadIsNeverWritten() {
    book.stored("h1", IDLE, T0);
    book.reported("h1", IDLE, T0.plusSeconds(2));
    book.reported("h1", IDLE, T0.plusSeconds(60));
    assertEquals(List.of(), book.due(T0.plusSeconds(61)));
  }

  @Test
  void aChangedLoadWaitsForTheIntervalThenIsWrittenOnce() {
    book.stored("h1", IDLE, T0);
    book.reported("h1", BUSY, T0.plusSeconds(2));
    assertEquals(List.of(), book.due(T0.plusSeconds(5)), "written at most once per interval");
    List<LoadRow> due = book.due(T0.plusSeconds(10));
    assertEquals(List.of(new LoadRow("h1", BUSY, T0.plusSeconds(2))), due);
    book.written(due, T0.plusSeconds(10));
    assertEquals(List.of(), book.due(T0.plusSeconds(30)), "the table has it now");
  }

  @Test
  void aHostRegisteredWithAnotherControllerIsWrittenOnItsFirstReport() {
    book.reported("h2", IDLE, T0);
    assertEquals(List.of(new LoadRow("h2", IDLE, T0)), book.due(T0));
  }

  @Test
  void onlyTheHostsThatChangedAreDue() {
    book.stored("a", IDLE, T0);
    book.stored("b", IDLE, T0);
    book.reported("a", IDLE, T0.plusSeconds(11));
    book.reported("b", BUSY, T0.plusSeconds(11));
    assertEquals(List.of(new LoadRow("b", BUSY, T0.plusSeconds(11))), book.due(T0.plusSeconds(12)));
  }
}
