package org.servicefarm.controller.broker;

import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.servicefarm.controller.FarmException;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.reconcile.Reconciler;

/**
 * Admin actions on one VM: each sets the desired state, lets the reconciler do the work, and
 * answers (within the wait given) when the VM has settled, so the caller sees the outcome.
 */
public final class VmActions {
  private final Database db;
  private final VmRepository vms;
  private final Reconciler reconciler;
  private final VmWaiter waiter;

  public VmActions(Database db, VmRepository vms, Reconciler reconciler, VmWaiter waiter) {
    this.db = db;
    this.vms = vms;
    this.reconciler = reconciler;
    this.waiter = waiter;
  }

  public CompletableFuture<VmRecord> suspend(UUID id, Duration wait) {
    return change(id, DesiredState.SLEEPING, EnumSet.of(VmState.ACTIVE, VmState.SLEEPING,
        VmState.STARTING, VmState.PROVISIONING), "suspend", wait);
  }

  public CompletableFuture<VmRecord> resume(UUID id, Duration wait) {
    return change(id, DesiredState.ACTIVE, EnumSet.of(VmState.SLEEPING, VmState.ACTIVE,
        VmState.STARTING), "resume", wait);
  }

  public CompletableFuture<VmRecord> archive(UUID id, Duration wait) {
    return change(id, DesiredState.ARCHIVED, EnumSet.of(VmState.ACTIVE, VmState.SLEEPING,
        VmState.STARTING, VmState.ARCHIVING, VmState.ARCHIVED), "archive", wait);
  }

  public CompletableFuture<VmRecord> restore(UUID id, Duration wait) {
    return change(id, DesiredState.ACTIVE, EnumSet.of(VmState.ARCHIVED, VmState.ARCHIVING,
        VmState.RESTORING, VmState.ACTIVE), "restore", wait);
  }

  public CompletableFuture<VmRecord> delete(UUID id, Duration wait) {
    Set<VmState> any = EnumSet.complementOf(EnumSet.of(VmState.FAILED));
    return change(id, DesiredState.DELETED, any, "delete", wait);
  }

  private CompletableFuture<VmRecord> change(UUID id, DesiredState desired, Set<VmState> allowed, String action,
      Duration wait) {
    VmRecord vm = db.inTransaction(tx -> {
      VmRecord current = vms.lock(tx, id)
          .orElseThrow(() -> new FarmException.NotFound("no VM with id " + id));
      if (!allowed.contains(current.state())) {
        throw new FarmException.Conflict("cannot " + action + " VM " + id + ": it is "
            + current.state() + " (possible from " + allowed + ")");
      }
      if (current.desiredState() == DesiredState.DELETED && desired != DesiredState.DELETED) {
        throw new FarmException.Conflict("cannot " + action + " VM " + id + ": it is being deleted");
      }
      return vms.setDesired(tx, current, desired, "admin: " + action);
    });
    reconciler.kick(vm.id());
    return waiter.whenSettled(vm.id(), wait);
  }
}
