package org.servicefarm.controller.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.servicefarm.controller.broker.InstanceChoice.Action;
import org.servicefarm.controller.broker.InstanceChoice.Candidate;
import org.servicefarm.controller.broker.InstanceChoice.Choice;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.InstancePolicy;
import org.servicefarm.controller.model.VmState;

class InstanceChoiceTest {
  // Ids in ascending order, so the last tie-break is readable.
  private static final UUID A = new UUID(0, 1);
  private static final UUID B = new UUID(0, 2);
  private static final UUID C = new UUID(0, 3);

  private static Candidate warm(UUID id, int leases, double load) {
    return new Candidate(id, VmState.ACTIVE, DesiredState.ACTIVE, leases, load, true);
  }

  private static Candidate vm(UUID id, VmState state, DesiredState desired, int leases) {
    return new Candidate(id, state, desired, leases, 0.1, state == VmState.ACTIVE);
  }

  private static InstancePolicy policy(int maxLeasesPerVm, int maxInstances) {
    return new InstancePolicy(0, 0, 0, 0, maxLeasesPerVm, maxInstances);
  }

  static Stream<Arguments> choices() {
    return Stream.of(
        Arguments.of("no VM: build one", List.of(), policy(0, 1), Action.CREATE, null),
        Arguments.of("fewest leases wins",
            List.of(warm(A, 3, 0.1), warm(B, 1, 0.9), warm(C, 2, 0.0)), policy(0, 3),
            Action.ANSWER, B),
        Arguments.of("equal leases: lowest host load",
            List.of(warm(A, 1, 0.5), warm(B, 1, 0.2)), policy(0, 3), Action.ANSWER, B),
        Arguments.of("equal leases and load: lowest id, whatever the order",
            List.of(warm(C, 1, 0.2), warm(A, 1, 0.2), warm(B, 1, 0.2)), policy(0, 3),
            Action.ANSWER, A),
        Arguments.of("a full VM is passed over for one with room",
            List.of(warm(A, 2, 0.0), warm(B, 1, 0.9)), policy(2, 3), Action.ANSWER, B),
        Arguments.of("all full, below max_instances: build",
            List.of(warm(A, 2, 0.0), warm(B, 2, 0.0)), policy(2, 3), Action.CREATE, null),
        Arguments.of("all full at max_instances: least-leased anyway",
            List.of(warm(A, 3, 0.0), warm(B, 2, 0.5)), policy(2, 2), Action.ANSWER, B),
        Arguments.of("a starting VM with room is joined before building",
            List.of(warm(A, 2, 0.0), vm(B, VmState.STARTING, DesiredState.ACTIVE, 1)),
            policy(2, 3), Action.JOIN, B),
        Arguments.of("a running VM with room beats a starting one with fewer leases",
            List.of(warm(A, 1, 0.0), vm(B, VmState.PROVISIONING, DesiredState.ACTIVE, 0)),
            policy(0, 3), Action.ANSWER, A),
        Arguments.of("a sleeping VM is woken rather than a new one built",
            List.of(warm(A, 2, 0.0), vm(B, VmState.SLEEPING, DesiredState.SLEEPING, 0)),
            policy(2, 3), Action.WAKE, B),
        Arguments.of("sleeping is woken before archived",
            List.of(vm(A, VmState.ARCHIVED, DesiredState.ARCHIVED, 0),
                vm(B, VmState.SLEEPING, DesiredState.SLEEPING, 0)),
            policy(0, 1), Action.WAKE, B),
        Arguments.of("a VM being put to sleep is kept awake",
            List.of(vm(A, VmState.ARCHIVED, DesiredState.ARCHIVED, 0),
                vm(B, VmState.ACTIVE, DesiredState.SLEEPING, 0)),
            policy(0, 1), Action.WAKE, B),
        Arguments.of("a VM being deleted is neither used nor counted",
            List.of(vm(A, VmState.ACTIVE, DesiredState.DELETED, 0)), policy(0, 1),
            Action.CREATE, null),
        Arguments.of("failed and deleted VMs do not count against max_instances",
            List.of(vm(A, VmState.FAILED, DesiredState.ACTIVE, 0),
                vm(B, VmState.DELETED, DesiredState.DELETED, 0)),
            policy(0, 1), Action.CREATE, null),
        Arguments.of("the only VM on a silent host: no duplicate",
            List.of(vm(A, VmState.UNKNOWN, DesiredState.ACTIVE, 0)), policy(0, 1),
            Action.HOST_DOWN, A),
        Arguments.of("a silent host's VM counts, but scale-out may build beside it",
            List.of(vm(A, VmState.UNKNOWN, DesiredState.ACTIVE, 0)), policy(0, 2),
            Action.CREATE, null),
        Arguments.of("ACTIVE but not reachable yet: joined and waited for",
            List.of(new Candidate(A, VmState.ACTIVE, DesiredState.ACTIVE, 0, 0.0, false)),
            policy(0, 1), Action.JOIN, A));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("choices")
  void choosesTheVmARequestIsAnsweredWith(String why, List<Candidate> vms, InstancePolicy policy,
      Action action, UUID vmId) {
    assertEquals(new Choice(action, vmId), InstanceChoice.choose(vms, policy));
  }

  @Test
  void grantingOneAtATimeKeepsLeaseCountsWithinOne() {
    List<UUID> ids = List.of(A, B, C);
    int[] leases = new int[3];
    for (int request = 0; request < 100; request++) {
      List<Candidate> vms = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        vms.add(warm(ids.get(i), leases[i], 0.3));
      }
      Choice choice = InstanceChoice.choose(vms, policy(0, 3));
      leases[ids.indexOf(choice.vmId())]++;
      int max = Math.max(leases[0], Math.max(leases[1], leases[2]));
      int min = Math.min(leases[0], Math.min(leases[1], leases[2]));
      assertTrue(max - min <= 1, "lease counts drifted apart: " + List.of(leases[0],
          leases[1], leases[2]));
    }
  }
}
