package org.servicefarm.controller.broker;

import java.time.Duration;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.LeaseRepository;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.reconcile.Reconciler;

/**
 * Admin actions on one VM: each sets the desired state, lets the reconciler do the work, and
 * answers (within the wait given) when the VM has settled, so the caller sees the outcome.
 *
 * <p>Suspending, archiving or deleting a VM that clients hold leases on would pull it from under
 * them: refused, naming the lease count, unless forced; forced, the leases end with the action as
 * their reason, so their holders hear why at their next renewal.
 */
public final class VmActions {
  private final Database db;
  private final VmRepository vms;
  private final LeaseRepository leases;
  private final Reconciler reconciler;
  private final VmWaiter waiter;

  public VmActions(Database db, VmRepository vms, LeaseRepository leases, Reconciler reconciler,
      VmWaiter waiter) {
    this.db = db;
    this.vms = vms;
    this.leases = leases;
    this.reconciler = reconciler;
    this.waiter = waiter;
  }

  /** What an action does about the VM's live leases. */
  public enum Leased {
    /** Refuse while the VM holds any. */
    REFUSE,
    /** End them, with the action as the reason. */
    FORCE,
    /** The action does not take the VM from its holders (resume, restore). */
    IGNORE;

    public static Leased refuseUnless(boolean force) {
      return force ? FORCE : REFUSE;
    }
  }

  public CompletableFuture<VmRecord> suspend(UUID id, Leased leased, Duration wait) {
    return change(id, DesiredState.SLEEPING, EnumSet.of(VmState.ACTIVE, VmState.SLEEPING,
        VmState.STARTING, VmState.PROVISIONING), "suspend", leased, wait);
  }

  public CompletableFuture<VmRecord> resume(UUID id, Duration wait) {
    return change(id, DesiredState.ACTIVE, EnumSet.of(VmState.SLEEPING, VmState.ACTIVE,
        VmState.STARTING), "resume", Leased.IGNORE, wait);
  }

  public CompletableFuture<VmRecord> archive(UUID id, Leased leased, Duration wait) {
    return change(id, DesiredState.ARCHIVED, EnumSet.of(VmState.ACTIVE, VmState.SLEEPING,
        VmState.STARTING, VmState.ARCHIVING, VmState.ARCHIVED), "archive", leased, wait);
  }

  public CompletableFuture<VmRecord> restore(UUID id, Duration wait) {
    return change(id, DesiredState.ACTIVE, EnumSet.of(VmState.ARCHIVED, VmState.ARCHIVING,
        VmState.RESTORING, VmState.ACTIVE), "restore", Leased.IGNORE, wait);
  }

  public CompletableFuture<VmRecord> delete(UUID id, Leased leased, Duration wait) {
    Set<VmState> any = EnumSet.complementOf(EnumSet.of(VmState.FAILED));
    return change(id, DesiredState.DELETED, any, "delete", leased, wait);
  }

  private CompletableFuture<VmRecord> change(UUID id, DesiredState desired, Set<VmState> allowed,
      String action, Leased leased, Duration wait) {
    VmRecord vm = db.inTransaction(tx -> {
      if (leased != Leased.IGNORE) {
        // The requests' key, taken before the VM's row as they do: no lease is granted on the
        // VM between the count below and the new desire.
        Optional<VmRecord> seen = vms.find(tx, id);
        if (seen.isPresent()) {
          tx.advisoryLock("definition:" + seen.get().definition());
        }
      }
      VmRecord current = vms.lock(tx, id)
          .orElseThrow(() -> new FarmException.NotFound("no VM with id " + id));
      if (!allowed.contains(current.state())) {
        throw new FarmException.Conflict("cannot " + action + " VM " + id + ": it is "
            + current.state() + " (possible from " + allowed + ")");
      }
      if (current.desiredState() == DesiredState.DELETED && desired != DesiredState.DELETED) {
        throw new FarmException.Conflict("cannot " + action + " VM " + id + ": it is being deleted");
      }
      String cause = "admin: " + action;
      if (leased != Leased.IGNORE && current.desiredState() != desired) {
        int live = leases.liveCount(tx, id);
        if (live > 0 && leased == Leased.REFUSE) {
          throw new FarmException.Conflict("cannot " + action + " VM " + id + ": it holds " + live
              + (live == 1 ? " live lease" : " live leases") + " (clients are using it); force"
              + " it (farmctl vm " + action + " " + id + " --force) to end "
              + (live == 1 ? "it" : "them"));
        }
        if (live > 0) {
          int ended = leases.endLive(tx, id, "VM " + id + " " + past(action) + " by an admin,"
              + " forced while in use");
          cause += ", forced: " + ended + (ended == 1 ? " live lease" : " live leases") + " ended";
        }
      }
      return vms.setDesired(tx, current, desired, cause);
    });
    reconciler.kick(vm.id());
    return waiter.whenSettled(vm.id(), vm.generation(), wait);
  }

  private static String past(String action) {
    return switch (action) {
      case "suspend" -> "suspended";
      case "archive" -> "archived";
      default -> action + "d";
    };
  }
}
