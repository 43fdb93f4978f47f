package org.servicefarm.controller.reconcile;

import java.util.EnumSet;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.FencedDatabase;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/**
 * A sleep or an archive that the host could not carry out (a full disk, most often) leaves the
 * VM in its last good state instead of FAILED: a failed managed save leaves the guest running,
 * and a failed archive leaves its domain and disk on the host. The VM is wanted running again,
 * which also restarts its idle clock, so the idle ladder tries again only after another idle
 * spell; an admin may try again at once. The event carries the host's reason (the path and sizes
 * for a full disk).
 */
final class FailedMoves {
  private final FencedDatabase db;
  private final VmRepository vms;
  private final EventRepository events;
  private final VmStateWatcher watcher;
  /** VMs whose install waits for room, with the reason last recorded, so it is recorded once. */
  private final ConcurrentMap<UUID, String> waitingForRoom = new ConcurrentHashMap<>();

  FailedMoves(FencedDatabase db, VmRepository vms, EventRepository events, VmStateWatcher watcher) {
    this.db = db;
    this.vms = vms;
    this.events = events;
    this.watcher = watcher;
  }

  /** The suspend failed: the VM stays ACTIVE. True when the row changed. */
  boolean sleepFailed(VmRecord vm, CommandResult result) {
    Optional<VmRecord> after = db.inTransaction(tx -> {
      Optional<VmRecord> current = vms.lock(tx, vm.id());
      if (current.isEmpty() || current.get().state() != VmState.ACTIVE
          || current.get().generation() != vm.generation()) {
        return Optional.<VmRecord>empty();
      }
      return Optional.of(vms.setDesired(tx, current.get(), DesiredState.ACTIVE,
          "sleep failed on host " + vm.hostId() + ": " + reason(result) + "; it stays ACTIVE"
              + " and may be suspended again once the cause is gone"));
    });
    after.ifPresent(watcher::publish);
    return after.isPresent();
  }

  /**
   * The archive failed: a VM that slept sleeps on (the agent keeps its saved memory until the
   * archive is stored), one that ran is started again on its host. True when the row changed.
   */
  boolean archiveFailed(VmRecord vm, CommandResult result) {
    Optional<VmRecord> after = db.inTransaction(tx -> {
      Optional<VmRecord> current = vms.lock(tx, vm.id());
      if (current.isEmpty() || current.get().state() != VmState.ARCHIVING
          || current.get().generation() != vm.generation()) {
        return Optional.<VmRecord>empty();
      }
      boolean slept = events.stateBefore(tx, vm.id(), VmState.ARCHIVING)
          .filter(VmState.SLEEPING.name()::equals).isPresent();
      DesiredState back = slept ? DesiredState.SLEEPING : DesiredState.ACTIVE;
      vms.setDesired(tx, current.get(), back,
          "archive failed; the VM is wanted " + back + " on host " + vm.hostId() + " again");
      return vms.transition(tx, vm.id(), EnumSet.of(VmState.ARCHIVING),
          slept ? VmState.SLEEPING : VmState.STARTING,
          "archive failed on host " + vm.hostId() + ": " + reason(result) + "; its domain and"
              + " disk stay there, " + (slept ? "it sleeps on" : "it is started again")
              + ", and may be archived again once the cause is gone");
    });
    after.ifPresent(watcher::publish);
    return after.isPresent();
  }

  /**
   * The install ran out of disk on the VM's host (fetching the image or making the overlay): the
   * agent kept nothing half-written, so the VM stays PROVISIONING there and the next sweep sends
   * the install again, which succeeds once there is room. The reason is recorded once as an
   * event; the request waiting for the VM keeps waiting (or times out and may ask again). Returns
   * false: the VM did not change.
   */
  boolean installWaitsForRoom(VmRecord vm, CommandResult result) {
    String cause = "install on host " + vm.hostId() + " waits for room: " + reason(result)
        + "; it is tried again on every sweep";
    if (!firstSighting(vm.id(), result)) {
      return false;
    }
    db.inTransaction(tx -> {
      events.vmState(tx, vm.id(), vm.hostId(), VmState.PROVISIONING, VmState.PROVISIONING, cause);
      return null;
    });
    return false;
  }

  /** The install went through: a later lack of room is recorded again. */
  void roomFound(UUID vmId) {
    waitingForRoom.remove(vmId);
  }

  private boolean firstSighting(UUID vmId, CommandResult result) {
    // Sizes change between attempts; the kind of failure is what is worth recording once.
    String gist = result.getErrorKind().name();
    return !gist.equals(waitingForRoom.put(vmId, gist));
  }

  /**
   * The restore ran out of disk on its host: the agent removed what it unpacked, and the archive
   * is still in the store, so the VM goes back to ARCHIVED without a host, and placement picks a
   * host again (by then the full one reports its lack of room and is passed over).
   */
  boolean restoreFailedForRoom(VmRecord vm, CommandResult result) {
    Optional<VmRecord> after = db.inTransaction(tx -> vms.transition(tx, vm.id(),
        EnumSet.of(VmState.RESTORING), VmState.ARCHIVED,
        "restore on host " + vm.hostId() + " ran out of room: " + reason(result)
            + "; the archive is kept, and the restore is placed again",
        VmRepository.Change.host(null)));
    after.ifPresent(watcher::publish);
    return after.isPresent();
  }

  private static String reason(CommandResult result) {
    return result.getError().isEmpty() ? "the agent gave no reason" : result.getError();
  }
}
