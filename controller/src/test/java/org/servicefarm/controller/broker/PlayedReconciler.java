package org.servicefarm.controller.broker;

import java.util.EnumSet;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/**
 * The broker's {@link StepKicks} played by a test: records every kick and, as the reconciler
 * would, moves the kicked VM where its step leads (recorded in the database and published to
 * the waiters, as a step's commit is).
 */
final class PlayedReconciler implements StepKicks {
  /** What the VM's step does when kicked. */
  enum Step {
    /** The step succeeds: the VM is ACTIVE and forwards its service's port. */
    SERVES,
    /** The step fails for good: the VM is FAILED. */
    FAILS,
    /** Nothing happens (the host is slow): the VM stays as it is. */
    STALLS
  }

  private final RequestFarm farm;
  private final Step step;
  private final List<UUID> kicked = new CopyOnWriteArrayList<>();

  PlayedReconciler(RequestFarm farm, Step step) {
    this.farm = farm;
    this.step = step;
  }

  /** The VMs kicked, in order. */
  List<UUID> kicked() {
    return List.copyOf(kicked);
  }

  @Override
  public void kick(UUID vmId) {
    kicked.add(vmId);
    if (step == Step.STALLS) {
      return;
    }
    VmRecord moved = farm.db.inTransaction(tx -> {
      VmRecord vm = farm.vms.find(tx, vmId).orElseThrow();
      if (vm.state() == VmState.ACTIVE || vm.state().isFinal()) {
        return vm;
      }
      VmState to = step == Step.SERVES ? VmState.ACTIVE : VmState.FAILED;
      VmRecord after = farm.vms.transition(tx, vmId, EnumSet.of(vm.state()), to, "played step",
          step == Step.FAILS ? VmRepository.Change.failed("the played step failed")
              // A restored VM is placed again; the test farm has one host with room.
              : vm.hostId() == null ? VmRepository.Change.host(RequestFarm.HOST)
              : VmRepository.Change.NONE)
          .orElseThrow();
      if (to == VmState.ACTIVE) {
        farm.vms.setOffers(tx, vmId, List.of(farm.offer(after)));
      }
      return after;
    });
    farm.watcher.publish(moved);
  }
}
