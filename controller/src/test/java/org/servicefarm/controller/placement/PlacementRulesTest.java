package org.servicefarm.controller.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.HostRecord.HostStatus;

/** The placement rules in the pure scheduler: label constraints, spread, anti-affinity, ratios. */
class PlacementRulesTest {
  private final PlacementScheduler scheduler = new PlacementScheduler(4.0);

  /** An empty 4-vCPU, 4 GB host with these labels ("zone=a,rack=r1"). */
  private static HostSnapshot host(String id, String labels) {
    return host(id, labels, 0);
  }

  private static HostSnapshot host(String id, String labels, long allocatedMb) {
    Map<String, String> parsed = new HashMap<>();
    for (String pair : labels.isEmpty() ? new String[0] : labels.split(",")) {
      String[] kv = pair.split("=");
      parsed.put(kv[0], kv[1]);
    }
    return new HostSnapshot(id, HostStatus.UP, true, 4, 4096, 0, allocatedMb, 0, Set.of(),
        HostSnapshot.DISK_UNKNOWN, Map.copyOf(parsed), 0, 0);
  }

  private static PlacementRequest request(PlacementRules rules) {
    return new PlacementRequest(1, 256, null, 0, rules);
  }

  private static PlacementRules rules(Map<String, String> constraints, SpreadRule spread,
      Map<String, Integer> instances) {
    return new PlacementRules("up-svc", constraints, spread, instances);
  }

  private static final List<HostSnapshot> RACKS = List.of(
      host("h1", "zone=a,rack=r1"), host("h2", "zone=a,rack=r1"),
      host("h3", "zone=a,rack=r2"), host("h4", "zone=b,rack=r2"),
      host("h5", "zone=b,rack=r3"), host("h6", "zone=b,rack=r3"));

  static Stream<Arguments> placements() {
    return Stream.of(
        Arguments.of("a constraint keeps only the hosts that carry the label",
            rules(Map.of("zone", "b"), null, Map.of()), Set.of("h4", "h5", "h6")),
        Arguments.of("every constraint must match",
            rules(Map.of("zone", "a", "rack", "r2"), null, Map.of()), Set.of("h3")),
        Arguments.of("a hard spread takes only the values with the fewest VMs",
            rules(Map.of(), new SpreadRule("rack", true, 1), Map.of("h1", 1, "h3", 1)),
            Set.of("h5", "h6")),
        Arguments.of("a skew of 2 lets a value hold one more",
            rules(Map.of(), new SpreadRule("rack", true, 2), Map.of("h1", 1, "h3", 1)),
            Set.of("h1", "h2", "h3", "h4", "h5", "h6")),
        Arguments.of("a spread counts only the values of the hosts the constraints allow",
            rules(Map.of("zone", "a"), new SpreadRule("rack", true, 1), Map.of("h1", 1)),
            Set.of("h3")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("placements")
  void hardRulesLeaveOnlyTheseHosts(String name, PlacementRules rules, Set<String> expected) {
    Placement.Ranked ranked =
        assertInstanceOf(Placement.Ranked.class, scheduler.place(request(rules), RACKS));
    assertEquals(expected, Set.copyOf(
        ranked.hosts().stream().map(Placement.RankedHost::hostId).toList()));
  }

  @Test
  void aConstraintNoHostMeetsNamesItAndIsNotAFullFarm() {
    Placement.NoHost none = assertInstanceOf(Placement.NoHost.class,
        scheduler.place(request(rules(Map.of("zone", "c"), null, Map.of())), RACKS));
    assertEquals(Map.of(HostFilter.LABEL_CONSTRAINT, 6), none.rejections());
    assertTrue(none.message().contains("no host can take a VM of up-svc"), none.message());
    assertTrue(none.message().contains("6 hosts: ruled out by constraint zone=c"), none.message());
    assertInstanceOf(FarmException.Conflict.class, Placer.noHostFailure(none));
  }

  @Test
  void aHardSpreadWithOneRackFullRefusesAndSaysWhy() {
    // Two VMs on each rack; rack r3's hosts are full, so a seventh VM would make r1 or r2 hold
    // 3 against r3's 2... allowed at skew 1, so give r1 and r2 three each: one more breaks it.
    List<HostSnapshot> hosts = new ArrayList<>(RACKS.subList(0, 4));
    hosts.add(host("h5", "zone=b,rack=r3", 4096));
    hosts.add(host("h6", "zone=b,rack=r3", 4096));
    PlacementRules rules = rules(Map.of(), new SpreadRule("rack", true, 1),
        Map.of("h1", 2, "h2", 1, "h3", 2, "h4", 1, "h5", 1, "h6", 1));
    Placement.NoHost none =
        assertInstanceOf(Placement.NoHost.class, scheduler.place(request(rules), hosts));
    assertEquals(Map.of(HostFilter.HARD_SPREAD, 4, HostFilter.FREE_MEMORY, 2), none.rejections());
    assertTrue(none.message().contains("4 hosts: ruled out by hard spread over rack (skew 1)"),
        none.message());
    assertTrue(none.message().contains("2 hosts: not enough free memory"), none.message());
    assertInstanceOf(FarmException.NoCapacity.class, Placer.noHostFailure(none));

    // Soft: the same farm places anyway, on a rack that breaks the skew least.
    PlacementRules soft = rules(Map.of(), new SpreadRule("rack", false, 1), rules.instancesPerHost());
    Placement.Ranked ranked =
        assertInstanceOf(Placement.Ranked.class, scheduler.place(request(soft), hosts));
    assertEquals(Set.of("h2", "h4"), Set.of(ranked.hosts().get(0).hostId(),
        ranked.hosts().get(1).hostId()), "the hosts holding fewer of the service's VMs come first");
  }

  @Test
  void aSoftSpreadPrefersTheEmptiestValueOverALighterHost() {
    List<HostSnapshot> hosts = List.of(host("r1-idle", "rack=r1"), host("r2-busy", "rack=r2", 3000));
    PlacementRules soft = rules(Map.of(), new SpreadRule("rack", false, 1),
        Map.of("r1-idle", 2));
    Placement.Ranked ranked =
        assertInstanceOf(Placement.Ranked.class, scheduler.place(request(soft), hosts));
    assertEquals(List.of("r2-busy", "r1-idle"),
        ranked.hosts().stream().map(Placement.RankedHost::hostId).toList());
  }

  @Test
  void twelveVmsOverThreeRacksOfTwoHostsLandEvenly() {
    Map<String, Integer> instances = new HashMap<>();
    List<HostSnapshot> hosts = List.of(
        host("h1", "rack=r1"), host("h2", "rack=r1"), host("h3", "rack=r2"),
        host("h4", "rack=r2"), host("h5", "rack=r3"), host("h6", "rack=r3"));
    List<HostSnapshot> now = new ArrayList<>(hosts);
    for (int i = 0; i < 12; i++) {
      PlacementRules rules = rules(Map.of(), new SpreadRule("rack", true, 1), Map.copyOf(instances));
      Placement.Ranked ranked =
          assertInstanceOf(Placement.Ranked.class, scheduler.place(request(rules), now));
      String chosen = ranked.hosts().get(0).hostId();
      instances.merge(chosen, 1, Integer::sum);
      now.replaceAll(h -> h.id().equals(chosen) ? new HostSnapshot(h.id(), h.status(), true,
          h.capacityVcpus(), h.capacityMemoryMb(), h.allocatedVcpus() + 1,
          h.allocatedMemoryMb() + 256, 0, Set.of(), HostSnapshot.DISK_UNKNOWN, h.labels(), 0, 0)
          : h);
    }
    assertEquals(Map.of("h1", 2, "h2", 2, "h3", 2, "h4", 2, "h5", 2, "h6", 2), instances,
        "spread by rack evens the racks, anti-affinity the hosts within them");
  }

  @Test
  void antiAffinityPutsAServicesVmsOnHostsThatHoldFewerOfThemWhateverTheLoad() {
    List<HostSnapshot> hosts = List.of(host("idle", "", 0), host("loaded", "", 3000));
    Placement.Ranked ranked = assertInstanceOf(Placement.Ranked.class,
        scheduler.place(request(rules(Map.of(), null, Map.of("idle", 1))), hosts));
    assertEquals("loaded", ranked.hosts().get(0).hostId());
    // Without room elsewhere, a second VM shares the host (the rule is soft).
    Placement.Ranked alone = assertInstanceOf(Placement.Ranked.class,
        scheduler.place(request(rules(Map.of(), null, Map.of("idle", 1))), List.of(hosts.get(0))));
    assertEquals("idle", alone.hosts().get(0).hostId());
  }

  @Test
  void overcommitRatiosAreTheHostsOwn() {
    // 2 cores at 4.0 (the default) take 8 vCPUs; at 1.0, 2.
    HostSnapshot shared = new HostSnapshot("shared", HostStatus.UP, true, 2, 4096, 7, 0, 0,
        Set.of(), HostSnapshot.DISK_UNKNOWN, Map.of(), 0, 0);
    HostSnapshot pinned = new HostSnapshot("pinned", HostStatus.UP, true, 2, 4096, 2, 0, 0,
        Set.of(), HostSnapshot.DISK_UNKNOWN, Map.of(), 1.0, 0);
    // 1 GB at memory ratio 1.5 takes 1536 MB.
    HostSnapshot ballooned = new HostSnapshot("ballooned", HostStatus.UP, true, 4, 1024, 0, 1280,
        0, Set.of(), HostSnapshot.DISK_UNKNOWN, Map.of(), 0, 1.5);
    HostSnapshot exact = new HostSnapshot("exact", HostStatus.UP, true, 4, 1024, 0, 1024,
        0, Set.of(), HostSnapshot.DISK_UNKNOWN, Map.of(), 0, 0);
    PlacementRequest vm = request(PlacementRules.NONE);
    assertInstanceOf(Placement.Ranked.class, scheduler.place(vm, List.of(shared)));
    assertEquals(Map.of(HostFilter.FREE_VCPUS, 1), assertInstanceOf(Placement.NoHost.class,
        scheduler.place(vm, List.of(pinned))).rejections());
    assertInstanceOf(Placement.Ranked.class, scheduler.place(vm, List.of(ballooned)));
    assertEquals(Map.of(HostFilter.FREE_MEMORY, 1), assertInstanceOf(Placement.NoHost.class,
        scheduler.place(vm, List.of(exact))).rejections());
  }
}
