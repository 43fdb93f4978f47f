package org.servicefarm.controller.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import org.junit.jupiter.api.Test;

/** A host's orphan events a minute: the first twenty recorded, the rest counted and told. */
class OrphanEventBudgetTest {
  @Test
  void aHostRecordsTwentyOrphansAMinuteAndTheNextMinuteSaysHowManyWentUnrecorded() {
    OrphanEventBudget budget = new OrphanEventBudget();
    Instant start = Instant.parse("2026-01-01T00:00:00Z");
    int recorded = 0;
    int firstSkips = 0;
    for (int i = 0; i < 100_000; i++) {
      OrphanEventBudget.Spend spend = budget.spend("h1", start.plusMillis(i / 10));
      recorded += spend.record() ? 1 : 0;
      firstSkips += spend.firstSkipped() ? 1 : 0;
    }
    assertEquals(OrphanEventBudget.PER_HOST_PER_MINUTE, recorded);
    assertEquals(1, firstSkips, "one log line says the budget is spent");
    OrphanEventBudget.Spend next = budget.spend("h1", start.plusSeconds(61));
    assertTrue(next.record());
    assertEquals(100_000 - OrphanEventBudget.PER_HOST_PER_MINUTE, next.skippedBefore());
    assertTrue(budget.spend("h2", start).record(), "another host has its own budget");
  }
}
