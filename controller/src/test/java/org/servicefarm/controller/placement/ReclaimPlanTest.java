package org.servicefarm.controller.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.servicefarm.controller.placement.ReclaimPlan.Claim;
import org.servicefarm.controller.placement.ReclaimPlan.Resident;
import org.servicefarm.controller.placement.ReclaimPlan.Shortfall;
import org.servicefarm.controller.placement.ReclaimPlan.Spare;

class ReclaimPlanTest {
  private static final Instant NOW = Instant.parse("2030-01-01T12:00:00Z");

  /** A request of project p, priority 0, for 1 vCPU and 1024 MB. */
  private static final Claim CLAIM = new Claim("p", 0, 1, 1024);

  /** Host {@code id} is short of {@code memoryMb} (and no vCPUs). */
  private static Shortfall shortOf(String id, long memoryMb) {
    return new Shortfall(id, 0, memoryMb);
  }

  /**
   * VM {@code name} of project p on {@code host}: 1 vCPU, {@code memoryMb}, last used
   * {@code idleSeconds} ago, idle.
   */
  private static Resident idle(String name, String host, int priority, long idleSeconds,
      long memoryMb) {
    return vm(name, host, "p", priority, false, 0, idleSeconds, memoryMb);
  }

  private static Resident vm(String name, String host, String project, int priority,
      boolean preemptible, int leases, long idleSeconds, long memoryMb) {
    return new Resident(UUID.nameUUIDFromBytes(name.getBytes()), host, project, "def-" + name,
        priority, preemptible, leases, NOW.minusSeconds(idleSeconds), 1, memoryMb);
  }

  /** "h1: a,b" (victims in the order they go), or "none". */
  private static String summary(List<Resident> all, java.util.Optional<ReclaimPlan.Plan> plan) {
    if (plan.isEmpty()) {
      return "none";
    }
    Map<UUID, String> names = all.stream().collect(Collectors.toMap(Resident::vmId,
        r -> r.definition().substring(4)));
    return plan.get().hostId() + ": " + plan.get().victims().stream()
        .map(r -> names.get(r.vmId())).collect(Collectors.joining(","));
  }

  static Stream<Arguments> plans() {
    return Stream.of(
        Arguments.of("the lowest priority goes first", CLAIM, List.of(shortOf("h1", 1024)),
            List.of(idle("a", "h1", 0, 10, 1024), idle("b", "h1", -5, 1, 1024)),
            Map.of(), "h1: b"),
        Arguments.of("at one priority, the least recently used goes first", CLAIM,
            List.of(shortOf("h1", 1024)),
            List.of(idle("a", "h1", 0, 10, 1024), idle("b", "h1", 0, 500, 1024),
                idle("c", "h1", 0, 100, 1024)),
            Map.of(), "h1: b"),
        Arguments.of("the host where the fewest must go", CLAIM,
            List.of(shortOf("h1", 1024), shortOf("h2", 1024)),
            List.of(idle("a", "h1", -9, 900, 512), idle("b", "h1", -9, 900, 512),
                idle("c", "h2", 0, 1, 1024)),
            Map.of(), "h2: c"),
        Arguments.of("a VM in use is never archived for an equal priority", CLAIM,
            List.of(shortOf("h1", 1024)),
            List.of(vm("a", "h1", "p", -1, false, 1, 900, 2048), idle("b", "h1", 0, 5, 512)),
            Map.of(), "none"),
        Arguments.of("in use and not preemptible: never, whatever the priorities",
            new Claim("p", 10, 1, 1024), List.of(shortOf("h1", 1024)),
            List.of(vm("a", "h1", "p", -1, false, 3, 900, 2048)), Map.of(), "none"),
        Arguments.of("in use and preemptible, lower priority: preempted for a higher one",
            new Claim("p", 10, 1, 1024), List.of(shortOf("h1", 1024)),
            List.of(vm("a", "h1", "p", 5, true, 2, 900, 2048)), Map.of(), "h1: a"),
        Arguments.of("preemptible but of the request's priority: not preempted", CLAIM,
            List.of(shortOf("h1", 1024)),
            List.of(vm("a", "h1", "p", 0, true, 2, 900, 2048)), Map.of(), "none"),
        Arguments.of("idle VMs go before preempting, even on another host",
            new Claim("p", 10, 1, 1024), List.of(shortOf("h1", 1024), shortOf("h2", 1024)),
            List.of(vm("a", "h1", "p", 0, true, 1, 900, 2048), idle("b", "h2", 9, 5, 512),
                idle("c", "h2", 9, 6, 512)),
            Map.of(), "h2: c,b"),
        Arguments.of("a VM of higher priority than the request never goes", CLAIM,
            List.of(shortOf("h1", 1024)), List.of(idle("a", "h1", 1, 9000, 4096)), Map.of(),
            "none"),
        Arguments.of("never more than needed: a small VM the big one covers stays", CLAIM,
            List.of(shortOf("h1", 1024)),
            List.of(idle("a", "h1", 0, 900, 256), idle("b", "h1", 0, 800, 2048)),
            Map.of(), "h1: b"),
        Arguments.of("exactly the needed VMs of equal size, least recently used first", CLAIM,
            List.of(shortOf("h1", 1536)),
            List.of(idle("a", "h1", 0, 100, 512), idle("b", "h1", 0, 300, 512),
                idle("c", "h1", 0, 200, 512), idle("d", "h1", 0, 50, 512)),
            Map.of(), "h1: b,c,a"),
        Arguments.of("not enough on any host: no plan", CLAIM, List.of(shortOf("h1", 4096)),
            List.of(idle("a", "h1", 0, 100, 1024), idle("b", "h1", 0, 100, 1024)), Map.of(),
            "none"),
        Arguments.of("a host with room already (VMs leaving it) needs no victim", CLAIM,
            List.of(shortOf("h1", 1024), shortOf("h2", 0)),
            List.of(idle("a", "h1", 0, 100, 1024)), Map.of(), "h2: "),
        Arguments.of("vCPUs short too: enough VMs go for both", CLAIM,
            List.of(new Shortfall("h1", 2, 512)),
            List.of(idle("a", "h1", 0, 300, 1024), idle("b", "h1", 0, 200, 256)), Map.of(),
            "h1: a,b"),
        Arguments.of("another project's VMs counted in its reservation stay", CLAIM,
            List.of(shortOf("h1", 1024)),
            List.of(vm("a", "h1", "q", -5, false, 0, 900, 1024), idle("b", "h1", 0, 10, 1024)),
            Map.of("q", new Spare(0, 0)), "h1: b"),
        Arguments.of("another project's VMs above its reservation may go", CLAIM,
            List.of(shortOf("h1", 1024)),
            List.of(vm("a", "h1", "q", -5, false, 0, 900, 1024), idle("b", "h1", 0, 10, 1024)),
            Map.of("q", new Spare(4, 1024)), "h1: a"),
        Arguments.of("the request's own project is not held to its reservation", CLAIM,
            List.of(shortOf("h1", 1024)), List.of(idle("a", "h1", 0, 900, 1024)),
            Map.of("p", new Spare(0, 0)), "h1: a"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("plans")
  void plansReclaim(String rule, Claim claim, List<Shortfall> hosts, List<Resident> residents,
      Map<String, Spare> spare, String expected) {
    assertEquals(expected, summary(residents, ReclaimPlan.plan(claim, hosts, residents, spare)));
  }
}
