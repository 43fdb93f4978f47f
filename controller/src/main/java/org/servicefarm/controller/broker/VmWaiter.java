package org.servicefarm.controller.broker;

import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.VmListings;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.reconcile.VmStateWatcher;

/**
 * Waits for a VM to settle, then reads where its service is reached. Nobody blocks: the answers
 * are futures, completed on the {@code completions} executor. The reconcile worker that records a
 * VM's transition wakes the waiters, and what they do next (read the access, start leases, finish
 * operations: several transactions per waiting request) must not hold that worker from the next
 * VM.
 */
public final class VmWaiter {
  private final Database db;
  private final VmRepository vms;
  private final VmListings listings;
  private final VmStateWatcher watcher;
  private final Executor completions;

  public VmWaiter(Database db, VmRepository vms, VmListings listings, VmStateWatcher watcher,
      Executor completions) {
    this.db = db;
    this.vms = vms;
    this.listings = listings;
    this.watcher = watcher;
    this.completions = completions;
  }

  /**
   * Completes with the service's access once the VM is ACTIVE; fails as Unavailable when it
   * settles elsewhere (FAILED, DELETED, another desired state) and as TimedOut after {@code wait}.
   */
  public CompletableFuture<Broker.Granted> whenActive(UUID vmId, String service, boolean created,
      Duration wait) {
    return whenSettled(vmId, wait).thenApply(vm -> access(vm, service, created));
  }

  /**
   * Completes with the VM once its observed state matches its desired one or can no longer change
   * (FAILED, DELETED); a VM that is not there in time fails as a timeout naming its state.
   *
   * @throws FarmException.NotFound at once when there is no such VM
   */
  public CompletableFuture<VmRecord> whenSettled(UUID vmId, Duration wait) {
    return whenSettled(vmId, 0, wait);
  }

  /**
   * {@link #whenSettled(UUID, Duration)} for a desire of generation {@code generation} at least:
   * a row of an older generation, published late by the thread that committed it, settled a
   * desire that is no longer wanted and does not count.
   */
  public CompletableFuture<VmRecord> whenSettled(UUID vmId, long generation, Duration wait) {
    CompletableFuture<VmRecord> done = watcher.await(vmId,
        vm -> vm.generation() >= generation && (vm.settled() || vm.state().isFinal()));
    // Read after registering: a change committed before the registration is seen here.
    VmRecord now;
    try {
      now = db.inTransaction(tx -> vms.find(tx, vmId))
          .orElseThrow(() -> new FarmException.NotFound("no VM with id " + vmId));
    } catch (RuntimeException e) {
      done.cancel(false);
      throw e;
    }
    if (now.generation() >= generation && (now.settled() || now.state().isFinal())) {
      done.complete(now);
    }
    return done.orTimeout(wait.toMillis(), TimeUnit.MILLISECONDS)
        .handleAsync((vm, failure) -> {
          Throwable cause = failure instanceof CompletionException c && c.getCause() != null
              ? c.getCause() : failure;
          if (cause instanceof TimeoutException) {
            throw timedOut(vmId, wait);
          }
          if (cause instanceof RuntimeException e) {
            throw e;
          }
          if (cause != null) {
            throw new IllegalStateException("waiting for VM " + vmId, cause);
          }
          return vm;
        }, completions);
  }

  private Broker.Granted access(VmRecord vm, String service, boolean created) {
    return db.inTransaction(tx -> access(tx, vm, service, created));
  }

  /**
   * Where the service is reached on the settled VM, read in the caller's transaction.
   *
   * @throws FarmException.Unavailable when the VM did not settle ACTIVE or forwards no port for it
   */
  Broker.Granted access(Database.Tx tx, VmRecord vm, String service, boolean created)
      throws java.sql.SQLException {
    UUID vmId = vm.id();
    if (vm.state() != VmState.ACTIVE) {
      throw new FarmException.Unavailable("VM " + vmId + " for service '" + service + "' is "
          + vm.state() + (vm.failureReason() == null ? "" : ": " + vm.failureReason())
          + " (wanted " + vm.desiredState() + ")");
    }
    Optional<VmListings.ServiceAccess> offer = listings.serviceAccess(tx, vmId, service);
    if (offer.isEmpty() || offer.get().hostPort() == null || offer.get().hostAddress() == null) {
      throw new FarmException.Unavailable("VM " + vmId + " is ACTIVE but its host forwards no port"
          + " for service '" + service + "'");
    }
    return new Broker.Granted(vmId, service, offer.get().hostAddress(), offer.get().hostPort(),
        vm.state(), created);
  }

  private FarmException.TimedOut timedOut(UUID vmId, Duration wait) {
    VmRecord last = db.inTransaction(tx -> vms.find(tx, vmId)).orElseThrow();
    return new FarmException.TimedOut("VM " + vmId + " did not reach " + last.desiredState()
        + " within " + wait.toSeconds() + " s; it is " + last.state() + " and the farm keeps going");
  }
}
