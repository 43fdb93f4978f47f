package org.servicefarm.controller.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.placement.Placement.RankedHost;

class PlacerSpreadTest {

  @Test
  void hostsAsGoodAsTheBestTakeTurnsBeingTriedFirstAndTheRestKeepTheirRank() {
    // a, b, c within the band of a (0.01, under one small VM's load); d is one VM further.
    List<RankedHost> ranked = List.of(new RankedHost("a", 0.100), new RankedHost("b", 0.104),
        new RankedHost("c", 0.108), new RankedHost("d", 0.1125), new RankedHost("e", 0.50));
    Set<String> firsts = new HashSet<>();
    for (int i = 0; i < 300; i++) {
      List<RankedHost> order = Placer.spread(ranked);
      firsts.add(order.get(0).hostId());
      assertEquals(Set.of("a", "b", "c"), Set.of(order.get(0).hostId(), order.get(1).hostId(),
          order.get(2).hostId()), "the near hosts come first");
      assertEquals(List.of("d", "e"), List.of(order.get(3).hostId(), order.get(4).hostId()));
    }
    assertEquals(Set.of("a", "b", "c"), firsts, "simultaneous requests do not all pile on one");
  }

  @Test
  void aClearlyBestHostIsAlwaysTriedFirst() {
    List<RankedHost> ranked = List.of(new RankedHost("a", 0.10), new RankedHost("b", 0.1125));
    for (int i = 0; i < 50; i++) {
      assertEquals("a", Placer.spread(ranked).get(0).hostId());
    }
  }
}
