package org.servicefarm.controller.hosts;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.api.v1.LoadReport;
import org.servicefarm.api.v1.Register;
import org.servicefarm.controller.FarmException;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.HostRecord;
import org.servicefarm.controller.model.HostRecord.HostStatus;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.reconcile.InventoryReconciler;
import org.servicefarm.controller.reconcile.Reconciler;
import org.servicefarm.controller.reconcile.VmStateWatcher;

/**
 * Hosts over time: registrations, load reports, and liveness. Liveness is kept in memory (the
 * time of each host's last report); the database hears of a host only when it registers, when
 * its status changes, and at most once per persist interval for its load.
 */
public final class HostTracker implements AgentControlService.HostEvents {
  private static final Logger LOG = Logger.getLogger(HostTracker.class.getName());
  private static final Set<VmState> LOST_WITH_HOST =
      EnumSet.of(VmState.ACTIVE, VmState.SLEEPING, VmState.STARTING);

  private final Database db;
  private final HostRepository hosts;
  private final VmRepository vms;
  private final EventRepository events;
  private final InventoryReconciler inventory;
  private final AgentRegistry registry;
  private final Reconciler reconciler;
  private final VmStateWatcher watcher;
  private final Duration livenessTimeout;
  private final Duration loadPersistInterval;
  // Since when this controller watches liveness: a host with no stream is silent since then.
  private volatile Instant watchingSince = Instant.now();
  private final Map<String, Instant> loadPersistedAt = new ConcurrentHashMap<>();
  // When each host last registered or reported, kept after its stream ends: a stream that closes
  // (an agent restarting, or giving up a connection after a partition) is not silence by itself.
  private final Map<String, Instant> lastHeard = new ConcurrentHashMap<>();

  public HostTracker(Database db, HostRepository hosts, VmRepository vms, EventRepository events,
      InventoryReconciler inventory, AgentRegistry registry, Reconciler reconciler,
      VmStateWatcher watcher, Duration livenessTimeout, Duration loadPersistInterval) {
    this.db = db;
    this.hosts = hosts;
    this.vms = vms;
    this.events = events;
    this.inventory = inventory;
    this.registry = registry;
    this.reconciler = reconciler;
    this.watcher = watcher;
    this.livenessTimeout = livenessTimeout;
    this.loadPersistInterval = loadPersistInterval;
  }

  /** Starts the liveness clock of every host now: this controller has just begun to lead. */
  public void startWatching() {
    watchingSince = Instant.now();
  }

  @Override
  public List<UUID> registered(Register r) {
    if (r.getCapacity().getVcpus() <= 0 || r.getCapacity().getMemoryMb() <= 0) {
      throw new FarmException.InvalidInput("host " + r.getHostId() + " registered without capacity: "
          + r.getCapacity().getVcpus() + " vCPUs, " + r.getCapacity().getMemoryMb() + " MB");
    }
    if (!Set.of("test", "kvm", "qemu-tcg").contains(r.getHypervisor())) {
      throw new FarmException.InvalidInput("unknown hypervisor '" + r.getHypervisor()
          + "' (expected test, kvm or qemu-tcg)");
    }
    db.inTransaction(tx -> {
      var before = hosts.register(tx, r.getHostId(), r.getAddress().isEmpty() ? "127.0.0.1" : r.getAddress(),
          r.getHypervisor(), r.getCapacity().getVcpus(), r.getCapacity().getMemoryMb(),
          r.getCapacity().getDiskMb(), AgentControlService.load(r.getLoad()));
      if (before.isEmpty() || before.get() == HostStatus.DOWN) {
        events.append(tx, "HOST_STATUS", null, r.getHostId(), null,
            before.map(Enum::name).orElse(null), "UP", "agent registered");
      }
      return null;
    });
    loadPersistedAt.put(r.getHostId(), Instant.now());
    lastHeard.put(r.getHostId(), Instant.now());
    List<UUID> toDrive = new ArrayList<>(inventory.apply(r.getHostId(), r.getInventoryList(), true));
    toDrive.addAll(db.inTransaction(tx -> vms.onHost(tx, r.getHostId())).stream()
        .filter(vm -> !vm.settled()).map(VmRecord::id).toList());
    return toDrive;
  }

  @Override
  public List<UUID> reported(String hostId, LoadReport report) {
    Instant now = Instant.now();
    lastHeard.put(hostId, now);
    Instant last = loadPersistedAt.getOrDefault(hostId, Instant.EPOCH);
    if (Duration.between(last, now).compareTo(loadPersistInterval) >= 0) {
      loadPersistedAt.put(hostId, now);
      db.inTransaction(tx -> {
        hosts.saveLoad(tx, hostId, AgentControlService.load(report.getLoad()), now);
        // Reports on a stream we had given up on: the host is back without reconnecting.
        if (hosts.markUpIfDown(tx, hostId)) {
          events.append(tx, "HOST_STATUS", null, hostId, null, "DOWN", "UP", "reports resumed");
        }
        return null;
      });
    }
    return inventory.apply(hostId, report.getDomainsList(), false);
  }

  @Override
  public void vmsChanged(List<UUID> vmIds) {
    reconciler.kickAll(vmIds);
  }

  /** Marks hosts silent for the liveness timeout DOWN; the leader runs this every second. */
  public void checkLiveness() {
    try {
      Instant now = Instant.now();
      for (HostRecord host : hosts.list(db)) {
        if (host.status() == HostStatus.DOWN) {
          continue;
        }
        Instant heard = lastHeard.getOrDefault(host.id(), watchingSince);
        Instant last = registry.session(host.id()).map(AgentSession::lastReport)
            .orElse(heard.isAfter(watchingSince) ? heard : watchingSince);
        if (Duration.between(last, now).compareTo(livenessTimeout) > 0) {
          markDown(host.id(), Duration.between(last, now));
        }
      }
    } catch (DatabaseException e) {
      LOG.log(Level.WARNING, "liveness check skipped: {0}", e.getMessage());
    }
  }

  private void markDown(String hostId, Duration silent) {
    String cause = "no report from host " + hostId + " for " + silent.toSeconds() + " s";
    List<VmRecord> lost = db.inTransaction(tx -> {
      List<VmRecord> changed = new ArrayList<>();
      if (hosts.setStatus(tx, hostId, HostStatus.DOWN).isEmpty()) {
        return changed;
      }
      events.append(tx, "HOST_STATUS", null, hostId, null, null, "DOWN", cause);
      for (VmRecord vm : vms.onHost(tx, hostId)) {
        if (LOST_WITH_HOST.contains(vm.state())) {
          vms.transition(tx, vm.id(), Set.of(vm.state()), VmState.UNKNOWN, cause)
              .ifPresent(changed::add);
        }
      }
      return changed;
    });
    LOG.warning("host " + hostId + " is DOWN (" + cause + "); " + lost.size() + " VMs UNKNOWN");
    lost.forEach(watcher::publish);
  }
}
