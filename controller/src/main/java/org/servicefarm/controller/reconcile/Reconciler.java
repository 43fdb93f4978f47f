package org.servicefarm.controller.reconcile;

import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.FencedDatabase;
import org.servicefarm.controller.db.ReclaimRepository;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.hosts.VmChanges;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.operations.OperationTracker;

/**
 * Drives each VM from its observed state toward its desired one, one step at a time, with
 * idempotent commands keyed by (vm id, generation). Level-triggered: a kick after any change, and
 * a periodic sweep over every unsettled VM, so a lost kick or a failed step is retried.
 *
 * <p>Steps for one VM never run concurrently; different VMs proceed in parallel on a bounded pool.
 */
public final class Reconciler implements AutoCloseable, VmChanges {
  private static final Logger LOG = Logger.getLogger(Reconciler.class.getName());
  private static final int MAX_STEPS_PER_RUN = 12;

  private final FencedDatabase db;
  private final VmRepository vms;
  private final ReconcileSteps steps;
  private final VmStateWatcher watcher;
  private final ExecutorService workers;
  /** Holds back VMs placed on room still being made; null: none are (tests without reclaim). */
  private final ReclaimGate reclaimGate;
  // VM id → whether another run was asked for while one is under way.
  private final ConcurrentHashMap<UUID, Boolean> running = new ConcurrentHashMap<>();

  public Reconciler(
      FencedDatabase db, VmRepository vms, ReconcileSteps steps, VmStateWatcher watcher, int workerThreads) {
    this(db, vms, steps, watcher, workerThreads, null, null);
  }

  /**
   * @param reclaims where VMs placed on room still being made are found
   * @param operations told what such a VM's requests wait for
   */
  public Reconciler(FencedDatabase db, VmRepository vms, ReconcileSteps steps,
      VmStateWatcher watcher, int workerThreads, ReclaimRepository reclaims,
      OperationTracker operations) {
    this.reclaimGate = reclaims == null ? null : new ReclaimGate(db, reclaims, operations);
    this.db = db;
    this.vms = vms;
    this.steps = steps;
    this.watcher = watcher;
    this.workers = Executors.newFixedThreadPool(workerThreads, daemon("reconcile"));
  }

  /** Asks for the VM to be driven now. */
  public void kick(UUID vmId) {
    if (running.putIfAbsent(vmId, Boolean.FALSE) == null) {
      workers.execute(() -> drive(vmId));
    } else {
      running.put(vmId, Boolean.TRUE);
    }
  }

  public void kickAll(List<UUID> vmIds) {
    vmIds.forEach(this::kick);
  }

  @Override
  public void drive(List<UUID> vmIds) {
    kickAll(vmIds);
  }

  @Override
  public void changed(VmRecord vm) {
    watcher.publish(vm);
  }

  /** Kicks every unsettled VM: the leader runs this periodically (see ha.LeaderDuties). */
  public void sweep() {
    try {
      kickAll(db.inTransaction(vms::unsettled));
    } catch (DatabaseException e) {
      LOG.log(Level.WARNING, "reconcile sweep skipped: {0}", e.getMessage());
    }
  }

  private void drive(UUID vmId) {
    do {
      running.put(vmId, Boolean.FALSE);
      runSteps(vmId);
    } while (!running.remove(vmId, Boolean.FALSE));
  }

  private void runSteps(UUID vmId) {
    for (int i = 0; i < MAX_STEPS_PER_RUN; i++) {
      Optional<VmRecord> vm;
      try {
        vm = db.inTransaction(tx -> vms.find(tx, vmId));
      } catch (DatabaseException e) {
        LOG.log(Level.WARNING, "cannot read VM {0}: {1}", new Object[] {vmId, e.getMessage()});
        return;
      }
      if (vm.isEmpty()) {
        return;
      }
      watcher.publish(vm.get());
      ReconcilePlan.Step step = ReconcilePlan.next(vm.get());
      if (step == ReconcilePlan.Step.NONE) {
        return;
      }
      boolean progressed;
      try {
        if (waitsForRoom(step, vm.get())) {
          return;
        }
        progressed = steps.run(step, vm.get());
      } catch (FarmException e) {
        // The VM cannot move now (no room, host gone); whoever waits on it hears why, and the
        // sweep tries again later.
        LOG.log(Level.INFO, "VM {0}: {1} waits: {2}", new Object[] {vmId, step, e.getMessage()});
        watcher.fail(vmId, e);
        return;
      } catch (DatabaseException e) {
        LOG.log(Level.WARNING, "VM {0}: {1} interrupted by the database: {2}",
            new Object[] {vmId, step, e.getMessage()});
        return;
      } catch (RuntimeException e) {
        // Must not escape drive(): the VM would stay marked running and never be driven again.
        LOG.log(Level.SEVERE, "VM " + vmId + ": " + step + " failed; the sweep tries again", e);
        return;
      }
      if (!progressed) {
        return;
      }
      if (reclaimGate != null && (step == ReconcilePlan.Step.ARCHIVE
          || step == ReconcilePlan.Step.DELETE)) {
        kickAll(reclaimGate.waitingOn(vm.get().hostId()));
      }
    }
  }

  /**
   * Whether the VM's install or restore waits for VMs leaving its host to make room for it; they
   * are driven meanwhile (the transaction that chose them could not drive them itself).
   */
  private boolean waitsForRoom(ReconcilePlan.Step step, VmRecord vm) {
    if (reclaimGate == null
        || (step != ReconcilePlan.Step.INSTALL && step != ReconcilePlan.Step.RESTORE)) {
      return false;
    }
    List<UUID> leaving = reclaimGate.leavingBefore(vm);
    if (leaving.isEmpty()) {
      return false;
    }
    LOG.log(Level.FINE, "VM {0}: {1} waits for {2} VMs to leave host {3}",
        new Object[] {vm.id(), step, leaving.size(), vm.hostId()});
    kickAll(leaving);
    return true;
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  @Override
  public void close() {
    workers.shutdownNow();
  }
}
