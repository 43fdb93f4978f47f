package org.servicefarm.controller.reconcile;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.PowerState;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/**
 * Squares the VM table with what a host reports it runs. On registration the report is the
 * host's whole inventory; in load reports it is the power state of each farm domain. Nothing is
 * duplicated and nothing is deleted here: a domain the table does not place on the host is an
 * orphan, and {@link OrphanPolicy} decides what becomes of it.
 */
public final class InventoryReconciler {
  // States whose domain should exist on the host, running or saved.
  private static final Set<VmState> EXPECT_DOMAIN =
      EnumSet.of(VmState.ACTIVE, VmState.SLEEPING, VmState.STARTING, VmState.UNKNOWN);

  private final Database db;
  private final VmRepository vms;
  private final OfferRecorder offers;
  private final VmStateWatcher watcher;
  private final OrphanPolicy orphans;

  public InventoryReconciler(
      Database db, VmRepository vms, OfferRecorder offers,
      VmStateWatcher watcher, OrphanPolicy orphans) {
    this.db = db;
    this.vms = vms;
    this.offers = offers;
    this.watcher = watcher;
    this.orphans = orphans;
  }

  /**
   * Applies a report from the host; returns the VMs whose state changed, for the reconciler.
   *
   * @param wholeInventory true when the report lists every farm domain on the host, so a VM
   *     missing from it has lost its domain
   */
  public List<UUID> apply(String hostId, List<DomainStatus> domains, boolean wholeInventory) {
    Map<String, DomainStatus> byVm = new HashMap<>();
    domains.forEach(d -> byVm.put(d.getVmId(), d));
    List<VmRecord> changed = new ArrayList<>();
    List<DomainStatus> orphanDomains = db.inTransaction(
        tx -> {
          for (VmRecord vm : vms.onHost(tx, hostId)) {
            DomainStatus domain = byVm.remove(vm.id().toString());
            Optional<VmRecord> after = Optional.empty();
            if (domain != null) {
              after = follow(tx, vm, domain);
            } else if (wholeInventory && EXPECT_DOMAIN.contains(vm.state())) {
              after = vms.transition(tx, vm.id(), Set.of(vm.state()), VmState.PROVISIONING,
                  "domain missing from host " + hostId + "'s inventory; installing it again");
            }
            after.ifPresent(changed::add);
          }
          // What is left are orphans. Load reports list every farm domain too, so they keep the
          // policy's grace clock going between registrations.
          return List.copyOf(byVm.values());
        });
    changed.forEach(watcher::publish);
    orphans.sighted(hostId, orphanDomains, wholeInventory);
    return changed.stream().map(VmRecord::id).toList();
  }

  /** Moves the VM to what its domain shows, where that differs from the table. */
  private Optional<VmRecord> follow(Database.Tx tx, VmRecord vm, DomainStatus domain)
      throws java.sql.SQLException {
    PowerState power = domain.getPower();
    VmState state = vm.state();
    String cause = "host " + vm.hostId() + " reports the domain " + power.name();
    if (power == PowerState.POWER_STATE_RUNNING || power == PowerState.POWER_STATE_PAUSED) {
      // Only a VM we had lost track of follows the report. A STARTING one is running in libvirt
      // before its services listen; the start command's answer, not the report, makes it ACTIVE.
      if (state == VmState.UNKNOWN && stateBeforeUnknown(tx, vm.id()) == VmState.STARTING) {
        // It was booting when its host went silent (an agent killed mid-boot): running is not
        // serving yet, so the start is sent again, and the agent answers it once the guest is up.
        return vms.transition(tx, vm.id(), Set.of(state), VmState.STARTING,
            cause + "; it was booting, so it is started again to wait for its services");
      }
      if (state == VmState.UNKNOWN) {
        Optional<VmRecord> moved = vms.transition(tx, vm.id(), Set.of(state), VmState.ACTIVE, cause);
        if (moved.isPresent()) {
          offers.record(tx, moved.get(), domain.getPortsList());
        }
        return moved;
      }
    } else if (power == PowerState.POWER_STATE_SAVED) {
      if (state == VmState.UNKNOWN || state == VmState.ACTIVE) {
        return vms.transition(tx, vm.id(), Set.of(state), VmState.SLEEPING, cause);
      }
    } else if (power == PowerState.POWER_STATE_SHUT_OFF || power == PowerState.POWER_STATE_CRASHED) {
      if (state == VmState.UNKNOWN || state == VmState.ACTIVE) {
        return vms.transition(tx, vm.id(), Set.of(state), VmState.STARTING, cause);
      }
    }
    return Optional.empty();
  }

  /** The state the VM was in when it became UNKNOWN, from the event of that change. */
  private static VmState stateBeforeUnknown(Database.Tx tx, UUID vmId) throws java.sql.SQLException {
    return tx.queryOne("SELECT from_state FROM events WHERE vm_id = ? AND kind = 'VM_STATE'"
            + " AND to_state = 'UNKNOWN' ORDER BY id DESC LIMIT 1",
            rs -> VmState.valueOf(rs.getString(1)), vmId)
        .orElse(null);
  }
}
