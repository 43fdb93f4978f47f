package org.servicefarm.controller.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.servicefarm.controller.model.HostRecord.HostStatus;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class PlacementSchedulerTest {
  private final PlacementScheduler scheduler = new PlacementScheduler(4.0);
  private static final PlacementRequest SMALL = new PlacementRequest(1, 256, "img-1");

  private static HostSnapshot host(String id, long capacityMb, long allocatedMb, double cpu) {
    return new HostSnapshot(id, HostStatus.UP, true, 4, capacityMb, 0, allocatedMb, cpu, Set.of());
  }

  static Stream<Arguments> rankings() {
    return Stream.of(
        Arguments.of("least allocated memory wins",
            List.of(host("a", 4096, 2048, 0), host("b", 4096, 512, 0), host("c", 4096, 1024, 0)),
            List.of("b", "c", "a")),
        Arguments.of("reported CPU use breaks an allocation tie",
            List.of(host("a", 4096, 0, 90), host("b", 4096, 0, 10)),
            List.of("b", "a")),
        Arguments.of("equal hosts rank by id, every time",
            List.of(host("c", 4096, 0, 0), host("a", 4096, 0, 0), host("b", 4096, 0, 0)),
            List.of("a", "b", "c")),
        Arguments.of("a full host is filtered out",
            List.of(host("full", 1024, 1000, 0), host("roomy", 1024, 0, 50)),
            List.of("roomy")),
        Arguments.of("down, draining and disconnected hosts are filtered out",
            List.of(
                new HostSnapshot("down", HostStatus.DOWN, true, 4, 4096, 0, 0, 0, Set.of()),
                new HostSnapshot("draining", HostStatus.DRAINING, true, 4, 4096, 0, 0, 0, Set.of()),
                new HostSnapshot("gone", HostStatus.UP, false, 4, 4096, 0, 0, 0, Set.of()),
                host("ok", 4096, 3000, 99)),
            List.of("ok")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("rankings")
  void ranksHosts(String name, List<HostSnapshot> hosts, List<String> expected) {
    Placement p = scheduler.place(SMALL, hosts);
    Placement.Ranked ranked = assertInstanceOf(Placement.Ranked.class, p);
    assertEquals(expected, ranked.hosts().stream().map(Placement.RankedHost::hostId).toList());
  }

  @Test
  void namesEveryReasonWhenNothingFits() {
    List<HostSnapshot> hosts = List.of(
        host("full-1", 1024, 1024, 0),
        host("full-2", 1024, 900, 0),
        new HostSnapshot("down", HostStatus.DOWN, true, 4, 4096, 0, 0, 0, Set.of()),
        new HostSnapshot("busy-cpu", HostStatus.UP, true, 1, 4096, 4, 0, 0, Set.of()));
    Placement.NoHost none = assertInstanceOf(Placement.NoHost.class, scheduler.place(SMALL, hosts));
    assertEquals(Map.of(HostFilter.FREE_MEMORY, 2, HostFilter.HOST_UP, 1,
        HostFilter.FREE_VCPUS, 1), none.rejections());
    assertTrue(none.message().contains("2 hosts: not enough free memory"), none.message());
    assertTrue(none.message().contains("1 host: host is down"), none.message());
  }

  @Test
  void aHostWithoutDiskForTheImageAndASavedMemoryImageIsPassedOver() {
    // 100 MiB image and 256 MB of memory to save: 356 MB of disk.
    PlacementRequest needsDisk = new PlacementRequest(1, 256, "img-1",
        PlacementRequest.diskMbFor(100L << 20, 256));
    assertEquals(356, needsDisk.diskMb());
    HostSnapshot nearlyFull =
        new HostSnapshot("nearly-full", HostStatus.UP, true, 4, 4096, 0, 0, 0, Set.of("img-1"), 300);
    HostSnapshot roomy =
        new HostSnapshot("roomy", HostStatus.UP, true, 4, 4096, 0, 3000, 90, Set.of(), 50_000);
    HostSnapshot unreported = host("unreported", 4096, 3500, 95);

    Placement.Ranked ranked = assertInstanceOf(Placement.Ranked.class,
        scheduler.place(needsDisk, List.of(nearlyFull, roomy, unreported)));
    assertEquals(List.of("roomy", "unreported"),
        ranked.hosts().stream().map(Placement.RankedHost::hostId).toList());

    Placement.NoHost none = assertInstanceOf(Placement.NoHost.class,
        scheduler.place(needsDisk, List.of(nearlyFull)));
    assertEquals(Map.of(HostFilter.FREE_DISK, 1), none.rejections());
    assertTrue(none.message().contains("356 MB of disk"), none.message());
  }

  @Test
  void saysThereAreNoHostsAtAll() {
    Placement.NoHost none = assertInstanceOf(Placement.NoHost.class, scheduler.place(SMALL, List.of()));
    assertTrue(none.noHosts());
    assertTrue(none.message().contains("no farm hosts are registered"), none.message());
  }

  @Test
  void prefersAHostCachingTheImageWhenLoadsAreClose() {
    HostSnapshot cold = host("a-cold", 4096, 0, 0);
    HostSnapshot warm = new HostSnapshot("b-warm", HostStatus.UP, true, 4, 4096, 0, 100, 0, Set.of("img-1"));
    Placement.Ranked r = assertInstanceOf(Placement.Ranked.class,
        scheduler.place(SMALL, List.of(cold, warm)));
    assertEquals("b-warm", r.hosts().get(0).hostId());
  }

  @Test
  void neverPlacesOnAHostWithoutRoomInRandomClusters() {
    Random random = new Random(42);
    for (int round = 0; round < 500; round++) {
      List<HostSnapshot> hosts = new ArrayList<>();
      int n = 1 + random.nextInt(20);
      for (int i = 0; i < n; i++) {
        long cap = 512 + random.nextInt(8192);
        hosts.add(new HostSnapshot("h" + i, random.nextInt(10) == 0 ? HostStatus.DOWN : HostStatus.UP,
            random.nextInt(10) != 0, 1 + random.nextInt(8), cap, random.nextInt(16),
            random.nextInt((int) cap + 1), random.nextDouble() * 100, Set.of()));
      }
      PlacementRequest req = new PlacementRequest(1 + random.nextInt(4), 64 + random.nextInt(2048), null);
      Placement p = scheduler.place(req, hosts);
      if (p instanceof Placement.Ranked ranked) {
        for (Placement.RankedHost rh : ranked.hosts()) {
          HostSnapshot h = hosts.stream().filter(x -> x.id().equals(rh.hostId())).findFirst().orElseThrow();
          assertTrue(h.connected() && h.status() == HostStatus.UP, "placed on unavailable host " + h);
          assertTrue(h.allocatedMemoryMb() + req.memoryMb() <= h.capacityMemoryMb(), "overcommitted " + h);
        }
        for (int i = 1; i < ranked.hosts().size(); i++) {
          assertTrue(ranked.hosts().get(i - 1).score() <= ranked.hosts().get(i).score());
        }
      } else {
        Placement.NoHost none = (Placement.NoHost) p;
        assertEquals(hosts.size(), none.rejections().values().stream().mapToInt(Integer::intValue).sum());
      }
    }
  }

  @Test
  void returnsTheFirstCandidatesOfAFullSortInRandomClusters() {
    Random random = new Random(7);
    for (int round = 0; round < 500; round++) {
      // Few distinct capacities, allocations and loads, so many hosts tie on score and the order
      // among them rests on the id; ids are shuffled so input order does not give it away.
      List<HostSnapshot> hosts = new ArrayList<>();
      int n = 1 + random.nextInt(3 * PlacementScheduler.CANDIDATES);
      if (round % 10 == 0) {
        n = 2_000;
      }
      for (int i = 0; i < n; i++) {
        hosts.add(new HostSnapshot("h" + random.nextInt(1_000_000), random.nextInt(20) == 0 ? HostStatus.DRAINING : HostStatus.UP,
            random.nextInt(20) != 0, random.nextBoolean() ? 4 : 256, 4096, random.nextInt(4), 512L * random.nextInt(8),
            10 * random.nextInt(3), random.nextBoolean() ? Set.of("img-1") : Set.of("img-2")));
      }
      PlacementRequest req = new PlacementRequest(1, 256, random.nextBoolean() ? "img-1" : null);

      List<Placement.RankedHost> fullSort = hosts.stream()
          .filter(h -> scheduler.reject(req, h) == null)
          .map(h -> new Placement.RankedHost(h.id(), scheduler.score(req, h)))
          .sorted(Comparator.comparingDouble(Placement.RankedHost::score)
              .thenComparing(Placement.RankedHost::hostId))
          .limit(PlacementScheduler.CANDIDATES)
          .toList();
      Placement p = scheduler.place(req, hosts);
      if (fullSort.isEmpty()) {
        assertInstanceOf(Placement.NoHost.class, p);
      } else {
        assertEquals(fullSort, assertInstanceOf(Placement.Ranked.class, p).hosts(), "round " + round);
      }
    }
  }

  @Test
  void countsEveryRejectionInALargeClusterWhereNothingFits() {
    List<HostSnapshot> hosts = new ArrayList<>();
    for (int i = 0; i < 3_000; i++) {
      hosts.add(switch (i % 4) {
        case 0 -> host("full-" + i, 1024, 1000, 0);
        case 1 -> new HostSnapshot("down-" + i, HostStatus.DOWN, true, 4, 4096, 0, 0, 0, Set.of());
        case 2 -> new HostSnapshot("gone-" + i, HostStatus.UP, false, 4, 4096, 0, 0, 0, Set.of());
        default -> new HostSnapshot("busy-" + i, HostStatus.UP, true, 1, 4096, 4, 0, 0, Set.of());
      });
    }
    Placement.NoHost none = assertInstanceOf(Placement.NoHost.class, scheduler.place(SMALL, hosts));
    assertEquals(Map.of(HostFilter.FREE_MEMORY, 750, HostFilter.HOST_UP, 750,
        HostFilter.AGENT_CONNECTED, 750, HostFilter.FREE_VCPUS, 750), none.rejections());
  }

  @Test
  void returnsAtMostTheCandidateCountEvenWhenEveryHostFits() {
    List<HostSnapshot> hosts = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      hosts.add(host(String.format("h%03d", 99 - i), 4096, 0, 0));
    }
    Placement.Ranked r = assertInstanceOf(Placement.Ranked.class, scheduler.place(SMALL, hosts));
    assertEquals(List.of("h000", "h001", "h002", "h003", "h004", "h005", "h006", "h007"),
        r.hosts().stream().map(Placement.RankedHost::hostId).toList());
  }
}
