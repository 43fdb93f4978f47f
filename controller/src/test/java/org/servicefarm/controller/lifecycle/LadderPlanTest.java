package org.servicefarm.controller.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.servicefarm.controller.lifecycle.LadderPlan.LadderVm;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.InstancePolicy;
import org.servicefarm.controller.model.VmState;

class LadderPlanTest {
  private static final Instant NOW = Instant.parse("2030-01-01T12:00:00Z");
  private static final UUID A = new UUID(0, 1);
  private static final UUID B = new UUID(0, 2);
  private static final UUID C = new UUID(0, 3);

  /** sleep after 10 s, archive after 100 s, delete after 1000 s, with the given warm pool. */
  private static InstancePolicy ladder(int minActive, int maxInstances) {
    return new InstancePolicy(10, 100, 1000, minActive, 0, maxInstances);
  }

  /** A settled VM in {@code state}, idle for {@code idleSeconds} (negative: a lease is live). */
  private static LadderVm vm(UUID id, VmState state, long idleSeconds) {
    return new LadderVm(id, state, DesiredState.valueOf(state.name()), idleSeconds < 0 ? 1 : 0,
        NOW.minusSeconds(idleSeconds));
  }

  /** "A→SLEEPING" for each move, then "+N" when the warm pool needs new VMs. */
  private static List<String> summary(LadderPlan.Plan plan) {
    Stream<String> moves = plan.moves().stream()
        .map(m -> name(m.vmId()) + "→" + m.to());
    return Stream.concat(moves, plan.provision() == 0 ? Stream.empty()
        : Stream.of("+" + plan.provision())).toList();
  }

  private static String name(UUID id) {
    return id.equals(A) ? "A" : id.equals(B) ? "B" : "C";
  }

  static Stream<Arguments> plans() {
    return Stream.of(
        Arguments.of("idle past sleep_after: sleeps", ladder(0, 3),
            List.of(vm(A, VmState.ACTIVE, 11)), List.of("A→SLEEPING")),
        Arguments.of("idle, but not long enough: stays", ladder(0, 3),
            List.of(vm(A, VmState.ACTIVE, 9)), List.of()),
        Arguments.of("a live lease keeps it ACTIVE however old its last use", ladder(0, 3),
            List.of(new LadderVm(A, VmState.ACTIVE, DesiredState.ACTIVE, 1, NOW.minusSeconds(500))),
            List.of()),
        Arguments.of("asleep past archive_after: archived", ladder(0, 3),
            List.of(vm(A, VmState.SLEEPING, 101)), List.of("A→ARCHIVED")),
        Arguments.of("archived past delete_after: deleted", ladder(0, 3),
            List.of(vm(A, VmState.ARCHIVED, 1001)), List.of("A→DELETED")),
        Arguments.of("a rung set to 0 never fires", new InstancePolicy(10, 0, 0, 0, 0, 1),
            List.of(vm(A, VmState.SLEEPING, 1_000_000)), List.of()),
        Arguments.of("a VM already on its way somewhere is left alone", ladder(0, 3),
            List.of(new LadderVm(A, VmState.ACTIVE, DesiredState.ARCHIVED, 0,
                NOW.minusSeconds(500))), List.of()),
        Arguments.of("min_active keeps the most recently used", ladder(2, 3),
            List.of(vm(A, VmState.ACTIVE, 50), vm(B, VmState.ACTIVE, 20),
                vm(C, VmState.ACTIVE, 30)), List.of("A→SLEEPING")),
        Arguments.of("leased VMs count toward min_active", ladder(1, 3),
            List.of(vm(A, VmState.ACTIVE, -1), vm(B, VmState.ACTIVE, 20)),
            List.of("B→SLEEPING")),
        Arguments.of("short of min_active: the most recently used sleeper wakes", ladder(2, 3),
            List.of(vm(A, VmState.ACTIVE, 0), vm(B, VmState.SLEEPING, 50),
                vm(C, VmState.SLEEPING, 40)), List.of("C→ACTIVE")),
        Arguments.of("sleeping wakes before archived, and a woken VM is not archived", ladder(2, 3),
            List.of(vm(A, VmState.ARCHIVED, 20), vm(B, VmState.SLEEPING, 500)),
            List.of("B→ACTIVE", "A→ACTIVE")),
        Arguments.of("nothing to wake: build up to min_active", ladder(2, 3),
            List.of(vm(A, VmState.ACTIVE, 0)), List.of("+1")),
        Arguments.of("starting VMs count toward min_active", ladder(2, 3),
            List.of(vm(A, VmState.ACTIVE, 0),
                new LadderVm(B, VmState.PROVISIONING, DesiredState.ACTIVE, 0, NOW)), List.of()),
        Arguments.of("building stops at max_instances", ladder(3, 3),
            List.of(vm(A, VmState.ACTIVE, 0), new LadderVm(B, VmState.SLEEPING,
                DesiredState.ARCHIVED, 0, NOW)), List.of("+1")),
        Arguments.of("deleted and failed VMs neither count nor move", ladder(1, 1),
            List.of(new LadderVm(A, VmState.DELETED, DesiredState.DELETED, 0, NOW),
                new LadderVm(B, VmState.FAILED, DesiredState.ACTIVE, 0, NOW)), List.of("+1")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("plans")
  void movesTheVmsTheRulesSay(String why, InstancePolicy policy, List<LadderVm> vms,
      List<String> expected) {
    assertEquals(expected, summary(LadderPlan.plan(policy, vms, NOW)));
  }
}
