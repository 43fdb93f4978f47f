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
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.FencedDatabase;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.hosts.InventoryListener;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/**
 * Squares the VM table with what a host reports it runs. On registration the report is the
 * host's whole inventory; in load reports it is the power state of each farm domain. Nothing is
 * duplicated and nothing is deleted here: a domain the table does not place on the host is an
 * orphan, and {@link OrphanPolicy} decides what becomes of it.
 *
 * <p>Most reports repeat the last one and change nothing, so a host whose last report changed
 * nothing and whose VMs have not changed since is steady ({@link UnchangedInventories}): the same
 * domains reported again touch no database. Which hosts' VMs changed is read once a second from
 * the events every VM change appends ({@link #noteChanges}), so changes made by any code path,
 * and by another controller, count.
 */
public final class InventoryReconciler implements InventoryListener {
  // States whose domain should exist on the host, running or saved.
  private static final Set<VmState> EXPECT_DOMAIN =
      EnumSet.of(VmState.ACTIVE, VmState.SLEEPING, VmState.STARTING, VmState.UNKNOWN);

  private final FencedDatabase db;
  private final VmRepository vms;
  private final OfferRecorder offers;
  private final EventRepository events;
  private final VmStateWatcher watcher;
  private final OrphanPolicy orphans;
  private final UnchangedInventories steady = new UnchangedInventories();
  // The newest event id seen at each of the last LOOKBACK ticks, oldest first: event ids come
  // from a sequence, so a transaction may commit an id below one already seen. Each tick reads
  // again from the oldest, which covers any transaction shorter than LOOKBACK ticks.
  private static final int LOOKBACK = 10;
  private final java.util.ArrayDeque<Long> seenUpTo = new java.util.ArrayDeque<>();

  public InventoryReconciler(
      FencedDatabase db, VmRepository vms, EventRepository events, OfferRecorder offers,
      VmStateWatcher watcher, OrphanPolicy orphans) {
    this.db = db;
    this.events = events;
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
  @Override
  public List<UUID> apply(String hostId, List<DomainStatus> domains, boolean wholeInventory) {
    String digest = UnchangedInventories.digest(domains);
    if (!wholeInventory && steady.known(hostId, digest)) {
      return List.of();
    }
    UnchangedInventories.Stamp stamp = steady.stamp(hostId);
    Map<String, DomainStatus> byVm = new HashMap<>();
    domains.forEach(d -> byVm.put(d.getVmId(), d));
    List<VmRecord> changed = new ArrayList<>();
    List<DomainStatus> orphanDomains = db.inTransaction(
        tx -> {
          for (VmRecord vm : vms.onHost(tx, hostId)) {
            DomainStatus domain = byVm.remove(vm.id().toString());
            Optional<VmRecord> after = Optional.empty();
            if (domain != null && domain.getDiskMissing()
                && EXPECT_DOMAIN.contains(vm.state())) {
              // The install defines the domain again: on its disk if it comes back, else the
              // disk is reported lost and the VM restored from its archive or failed.
              after = vms.transition(tx, vm.id(), Set.of(vm.state()), VmState.PROVISIONING,
                  "the disk of its domain is missing on host " + hostId
                      + "; defining it again");
            } else if (domain != null) {
              after = follow(tx, vm, domain);
            } else if (wholeInventory && EXPECT_DOMAIN.contains(vm.state())) {
              // The install finds the VM's disk on the host and defines the domain on it; a VM
              // that has served never gets a new disk (see CommandFactory#install).
              after = vms.transition(tx, vm.id(), Set.of(vm.state()), VmState.PROVISIONING,
                  "domain missing from host " + hostId + "'s inventory; defining it again on"
                      + " its disk");
            }
            after.ifPresent(changed::add);
          }
          // What is left are orphans. Load reports list every farm domain too, so they keep the
          // policy's grace clock going between registrations.
          return List.copyOf(byVm.values());
        });
    changed.forEach(watcher::publish);
    // With orphans, every report counts: the policy's grace clock runs on them.
    if (changed.isEmpty() && orphanDomains.isEmpty()) {
      steady.settled(hostId, digest, stamp);
    } else {
      steady.unsettled(hostId);
    }
    orphans.sighted(hostId, orphanDomains, wholeInventory);
    return changed.stream().map(VmRecord::id).toList();
  }

  /**
   * Whether the host's last report changed nothing and none of its VMs changed since: a report
   * of the same domains needs no database.
   */
  @Override
  public boolean steady(String hostId) {
    return steady.steady(hostId);
  }

  /** The host's VMs changed here (it went DOWN): its next report is squared with the table. */
  @Override
  public void hostChanged(String hostId) {
    steady.changed(hostId);
  }

  /**
   * Reads the events appended since the last call and ends the steadiness of each host they
   * name; the leader runs this every second. The first call knows nothing of what came before,
   * so it ends every host's.
   */
  @Override
  public synchronized void noteChanges() {
    if (seenUpTo.isEmpty()) {
      long newest = db.inTransaction(events::newestId);
      steady.changedAll();
      seenUpTo.addLast(newest);
      return;
    }
    long from = seenUpTo.peekFirst();
    long newest = seenUpTo.peekLast();
    for (EventRepository.HostMention e :
        db.inTransaction(tx -> events.hostMentionsAfter(tx, from))) {
      newest = Math.max(newest, e.id());
      if (e.hostId() == null) {
        steady.changedAll();
      } else {
        steady.changed(e.hostId());
      }
    }
    seenUpTo.addLast(newest);
    if (seenUpTo.size() > LOOKBACK) {
      seenUpTo.removeFirst();
    }
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
      if (state == VmState.UNKNOWN && events.stateBeforeUnknown(tx, vm.id()) == VmState.STARTING) {
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
}
