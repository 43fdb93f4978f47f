package org.servicefarm.controller.reconcile;

import java.util.List;
import java.util.UUID;
import org.servicefarm.controller.db.FencedDatabase;
import org.servicefarm.controller.db.ReclaimRepository;
import org.servicefarm.controller.model.OperationPhase;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.operations.OperationTracker;

/**
 * Holds back a VM placed on room still being made (see placement's Reclaimer): it installs or
 * restores only once the VMs leaving its host are gone, so the host never runs both. Until then
 * its step waits (the request waiting on it does not fail), the leaving VMs are driven, and each
 * archive or delete that completes drives the VMs waiting on that host.
 */
final class ReclaimGate {
  private final FencedDatabase db;
  private final ReclaimRepository reclaims;
  private final OperationTracker operations;

  ReclaimGate(FencedDatabase db, ReclaimRepository reclaims, OperationTracker operations) {
    this.db = db;
    this.reclaims = reclaims;
    this.operations = operations;
  }

  /**
   * The VMs the VM waits to leave its host; empty when it may go on, and then it no longer
   * waits.
   */
  List<UUID> leavingBefore(VmRecord vm) {
    if (vm.hostId() == null) {
      return List.of();
    }
    List<UUID> leaving = db.inTransaction(tx -> {
      List<UUID> still = reclaims.leavingBefore(tx, vm.id(), vm.hostId());
      if (still.isEmpty()) {
        reclaims.roomMade(tx, vm.id());
      }
      return still;
    });
    if (!leaving.isEmpty() && operations != null) {
      operations.entered(vm.id(), OperationPhase.PLACING, "waiting for " + leaving.size()
          + (leaving.size() == 1 ? " VM" : " VMs") + " to leave host " + vm.hostId()
          + ": archived to make room");
    }
    return leaving;
  }

  /** The VMs on the host that wait for room, to drive when a VM left it. */
  List<UUID> waitingOn(String hostId) {
    return hostId == null ? List.of() : db.inTransaction(tx -> reclaims.waitingOn(tx, hostId));
  }
}
