package org.servicefarm.controller.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OrphanSightingsTest {
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  private final OrphanSightings sightings = new OrphanSightings();

  @Test
  void aRegistrationConfirmsWhatItShowsAtOnce() {
    OrphanSightings.Seen seen = sightings.report("h", List.of("vm-1"), true, T0).get("vm-1");
    assertTrue(seen.newlyConfirmed());
    assertTrue(seen.sighting().confirmed());
  }

  @Test
  void aSingleLoadReportIsNotEnoughButTwoInARowAre() {
    assertFalse(sightings.report("h", List.of("vm-1"), false, T0).get("vm-1").newlyConfirmed());
    OrphanSightings.Seen second =
        sightings.report("h", List.of("vm-1"), false, T0.plusSeconds(2)).get("vm-1");
    assertTrue(second.newlyConfirmed());
    assertEquals(Duration.ofSeconds(2), second.sighting().age(T0.plusSeconds(2)));
    OrphanSightings.Seen third =
        sightings.report("h", List.of("vm-1"), false, T0.plusSeconds(4)).get("vm-1");
    assertFalse(third.newlyConfirmed(), "announced once, not with every report");
  }

  @Test
  void aDomainMissingFromAReportStartsItsGraceAgain() {
    sightings.report("h", List.of("vm-1"), true, T0);
    sightings.report("h", List.of(), false, T0.plusSeconds(2));
    Map<String, OrphanSightings.Seen> back =
        sightings.report("h", List.of("vm-1"), false, T0.plusSeconds(4));
    assertEquals(T0.plusSeconds(4), back.get("vm-1").sighting().firstSeen());
    assertFalse(back.get("vm-1").sighting().confirmed(), "a stale one-off is not confirmed");
  }

  @Test
  void hostsAreKeptApart() {
    sightings.report("h1", List.of("vm-1"), true, T0);
    sightings.report("h2", List.of(), true, T0.plusSeconds(1));
    assertEquals(T0, sightings.report("h1", List.of("vm-1"), false, T0.plusSeconds(2))
        .get("vm-1").sighting().firstSeen());
  }

  @Test
  void oneRemovalAtATimeAndAFailedOneMayBeTriedAgain() {
    sightings.report("h", List.of("vm-1"), true, T0);
    assertTrue(sightings.startRemoving("h", "vm-1"));
    assertFalse(sightings.startRemoving("h", "vm-1"), "one delete in flight");
    assertTrue(sightings.report("h", List.of("vm-1"), false, T0.plusSeconds(2))
        .get("vm-1").sighting().removing());
    sightings.removingEnded("h", "vm-1", false);
    assertTrue(sightings.startRemoving("h", "vm-1"));
    sightings.removingEnded("h", "vm-1", true);
    assertFalse(sightings.startRemoving("h", "vm-1"), "removed: no longer tracked");
  }

  @Test
  void anUnseenOrphanCannotBeRemoved() {
    assertFalse(sightings.startRemoving("h", "vm-9"));
  }
}
