package org.servicefarm.controller.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.servicefarm.controller.db.CatalogRepository.ServiceRoute;
import org.servicefarm.controller.db.RequestRoutes.Candidate;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.InstancePolicy;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/**
 * Each branch of the request method (docs/architecture.md, "The request method") as a row: what
 * the request's locked reads found, and what it does. Pure: no database, milliseconds.
 */
class RequestPlanTest {
  private static final UUID A = new UUID(0, 1);
  private static final UUID B = new UUID(0, 2);
  private static final InstancePolicy ONE_VM = new InstancePolicy(0, 0, 0, 0, 0, 1);
  private static final InstancePolicy TWO_LEASES_TWO_VMS = new InstancePolicy(0, 0, 0, 0, 2, 2);

  private static ServiceRoute route(InstancePolicy policy) {
    return new ServiceRoute("web", "web-def", 80, policy);
  }

  private static Candidate vm(UUID id, VmState state, DesiredState desired, int leases) {
    boolean reachable = state == VmState.ACTIVE;
    VmRecord row = new VmRecord(id, "web-def", new UUID(9, 9), "host-1", state, desired, 1, 1,
        256, null, null, Instant.EPOCH, Instant.EPOCH);
    return new Candidate(row, reachable ? "10.0.0.1" : null, reachable ? 40000 : null, 10, 512,
        leases);
  }

  /** What a plan says, as a row of the table reads it. */
  private static String described(RequestPlan plan) {
    if (plan instanceof RequestPlan.AnswerNow a) {
      return "answer now with " + a.vm().vm().id() + (a.sharedLockSuffices() ? " (shared)" : "");
    }
    if (plan instanceof RequestPlan.WaitFor w) {
      return w.branch() + " " + w.vm().vm().id();
    }
    if (plan instanceof RequestPlan.Build b) {
      return "build beside " + b.others();
    }
    if (plan instanceof RequestPlan.HostDown d) {
      return "refuse: host of " + d.vm().vm().id() + " down";
    }
    if (plan instanceof RequestPlan.NotFound n) {
      return "refuse: " + n.service() + " not found";
    }
    return "take the exclusive lock";
  }

  static Stream<Arguments> branches() {
    return Stream.of(
        Arguments.of("warm: one running VM answers at once, and the shared lock sufficed",
            route(ONE_VM), List.of(vm(A, VmState.ACTIVE, DesiredState.ACTIVE, 3)), false,
            "answer now with " + A + " (shared)"),
        Arguments.of("warm among several: the request needs the exclusive lock to choose",
            route(TWO_LEASES_TWO_VMS), List.of(vm(A, VmState.ACTIVE, DesiredState.ACTIVE, 1),
                vm(B, VmState.ACTIVE, DesiredState.ACTIVE, 0)), false,
            "take the exclusive lock"),
        Arguments.of("warm among several, holding the exclusive lock: the least leased",
            route(TWO_LEASES_TWO_VMS), List.of(vm(A, VmState.ACTIVE, DesiredState.ACTIVE, 1),
                vm(B, VmState.ACTIVE, DesiredState.ACTIVE, 0)), true,
            "answer now with " + B),
        Arguments.of("wake: the only VM sleeps",
            route(ONE_VM), List.of(vm(A, VmState.SLEEPING, DesiredState.SLEEPING, 0)), true,
            "WAKE " + A),
        Arguments.of("restore: the only VM is archived",
            route(ONE_VM), List.of(vm(A, VmState.ARCHIVED, DesiredState.ARCHIVED, 0)), true,
            "RESTORE " + A),
        Arguments.of("waking needs the exclusive lock first",
            route(ONE_VM), List.of(vm(A, VmState.SLEEPING, DesiredState.SLEEPING, 0)), false,
            "take the exclusive lock"),
        Arguments.of("waiting: a VM being built is joined, not built again",
            route(ONE_VM), List.of(vm(A, VmState.PROVISIONING, DesiredState.ACTIVE, 1)), true,
            "WAIT " + A),
        Arguments.of("build: defined, but no VM yet",
            route(ONE_VM), List.of(), true, "build beside 0"),
        Arguments.of("build: every VM full and room for another instance",
            route(TWO_LEASES_TWO_VMS), List.of(vm(A, VmState.ACTIVE, DesiredState.ACTIVE, 2)),
            true, "build beside 1"),
        Arguments.of("a deleted VM is not counted: build",
            route(ONE_VM), List.of(vm(A, VmState.DELETED, DesiredState.DELETED, 0)), true,
            "build beside 0"),
        Arguments.of("refusal: the only VM is on a host that stopped reporting",
            route(ONE_VM), List.of(vm(A, VmState.UNKNOWN, DesiredState.ACTIVE, 0)), true,
            "refuse: host of " + A + " down"),
        Arguments.of("refusal: not defined anywhere the caller sees",
            null, List.of(), false, "refuse: web not found"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("branches")
  void eachBranchOfTheRequestMethod(String branch, ServiceRoute route, List<Candidate> vms,
      boolean exclusiveHeld, String expected) {
    assertEquals(expected, described(RequestPlan.of("web", route, vms, exclusiveHeld)));
  }
}
