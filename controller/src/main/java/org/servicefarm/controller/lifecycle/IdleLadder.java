package org.servicefarm.controller.lifecycle;

import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.FencedDatabase;
import org.servicefarm.controller.db.LeaseRepository;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.ServiceDefinitionRecord;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.placement.VmProvisioner;
import org.servicefarm.controller.reconcile.Reconciler;

/**
 * Puts idle VMs away and keeps warm pools filled, on a timer: for each definition with ladder
 * settings, it reads the VMs and their leases, asks {@link LadderPlan} what to do, writes the new
 * desired states and kicks the reconciler, which does the work.
 *
 * <p>Each definition is decided under the same advisory lock as the request method, so a request
 * granting a lease and the ladder putting that VM to sleep cannot pass each other.
 */
public final class IdleLadder {
  private static final Logger LOG = Logger.getLogger(IdleLadder.class.getName());
  /** Ended leases kept this long (history, last use) before their use folds into the VM row. */
  static final Duration LEASE_HISTORY = Duration.ofDays(1);
  private static final Duration PRUNE_EVERY = Duration.ofMinutes(10);

  private final FencedDatabase db;
  private final CatalogRepository catalog;
  private final VmRepository vms;
  private final LeaseRepository leases;
  private final VmProvisioner provisioner;
  private final Reconciler reconciler;
  // Definition → why its warm pool could not be filled, so the log says it once, not every tick.
  private final Map<String, String> lastProvisionFailure = new ConcurrentHashMap<>();
  private long lastPruneNanos = System.nanoTime();

  public IdleLadder(FencedDatabase db, CatalogRepository catalog, VmRepository vms,
      LeaseRepository leases, VmProvisioner provisioner, Reconciler reconciler) {
    this.db = db;
    this.catalog = catalog;
    this.vms = vms;
    this.leases = leases;
    this.provisioner = provisioner;
    this.reconciler = reconciler;
  }

  /** One pass of the ladder; the leader runs it every tick (see ha.LeaderDuties). */
  public void tick() {
    // A failure is logged and the next tick tries again: the ladder is level-triggered.
    try {
      for (ServiceDefinitionRecord def : db.inTransaction(catalog::laddered)) {
        step(def);
      }
      if (System.nanoTime() - lastPruneNanos > PRUNE_EVERY.toNanos()) {
        lastPruneNanos = System.nanoTime();
        int pruned = db.inTransaction(tx -> leases.pruneEnded(tx, LEASE_HISTORY));
        LOG.log(Level.FINE, "pruned {0} leases that ended over a day ago", pruned);
      }
    } catch (DatabaseException e) {
      LOG.log(Level.WARNING, "idle ladder skipped a tick: {0}", e.getMessage());
    } catch (RuntimeException e) {
      LOG.log(Level.SEVERE, "idle ladder tick failed", e);
    }
  }

  /** One definition: decide under its lock, then let the reconciler carry the moves out. */
  void step(ServiceDefinitionRecord def) {
    List<UUID> changed = db.inTransaction(tx -> {
      tx.advisoryLock("definition:" + def.name());
      List<VmRecord> current = vms.ofDefinition(tx, def.name());
      Map<UUID, LeaseRepository.Usage> usage =
          leases.usage(tx, current.stream().map(VmRecord::id).toList());
      Map<UUID, VmRecord> byId = new HashMap<>();
      List<LadderPlan.LadderVm> ladderVms = new ArrayList<>();
      for (VmRecord vm : current) {
        byId.put(vm.id(), vm);
        LeaseRepository.Usage used = usage.get(vm.id());
        ladderVms.add(new LadderPlan.LadderVm(vm.id(), vm.state(), vm.desiredState(),
            used.liveLeases(), used.idleSince()));
      }
      LadderPlan.Plan plan = LadderPlan.plan(def.policy(), ladderVms, leases.now(tx));
      List<UUID> ids = new ArrayList<>();
      for (LadderPlan.Move move : plan.moves()) {
        ids.add(vms.setDesired(tx, byId.get(move.vmId()), move.to(), move.cause()).id());
      }
      ids.addAll(provision(tx, def, plan));
      return ids;
    });
    changed.forEach(reconciler::kick);
  }

  /**
   * Builds the VMs the warm pool lacks. No room or no host is no failure of the ladder: it is
   * logged once per new reason and tried again next tick, while the moves still commit.
   */
  private List<UUID> provision(Database.Tx tx, ServiceDefinitionRecord def, LadderPlan.Plan plan)
      throws SQLException {
    List<UUID> created = new ArrayList<>();
    // The tick listed the definition before taking its lock; if it was deleted since, its VMs are
    // being deleted and the plan would refill the pool of a definition nobody can request. Read
    // only here: the moves leave VMs being deleted alone, so they need no such check.
    if (plan.provision() == 0 || catalog.find(tx, def.name()).isEmpty()) {
      return created;
    }
    try {
      for (int i = 0; i < plan.provision(); i++) {
        created.add(provisioner.provision(tx, def, plan.provisionCause()).id());
      }
      lastProvisionFailure.remove(def.name());
    } catch (FarmException.NoCapacity | FarmException.Unavailable | FarmException.Conflict e) {
      String before = lastProvisionFailure.put(def.name(), e.getMessage());
      if (!Objects.equals(before, e.getMessage())) {
        LOG.log(Level.WARNING, "warm pool of {0} short of min_active {1}: {2}",
            new Object[] {def.name(), def.policy().minActive(), e.getMessage()});
      }
    }
    return created;
  }
}
