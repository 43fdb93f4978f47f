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
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.FencedDatabase;
import org.servicefarm.controller.db.HostLabelRepository;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.hosts.ReportedLoads;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.LabelSyntax;
import org.servicefarm.controller.model.HostRecord.HostLoad;
import org.servicefarm.controller.model.HostRecord.HostStatus;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/**
 * Hosts over time: registrations, load reports, and liveness. Liveness and load are kept in
 * memory; a report by itself writes nothing. Once a second the leader's {@link #tick} writes the
 * loads that changed (each host's at most once per persist interval) in one batched statement,
 * brings back hosts whose reports resumed, and marks silent hosts DOWN. The database otherwise
 * hears of a host only when it registers and when its status changes.
 */
public final class HostTracker implements HostEvents {
  private static final Logger LOG = Logger.getLogger(HostTracker.class.getName());
  private static final Set<VmState> LOST_WITH_HOST =
      EnumSet.of(VmState.ACTIVE, VmState.SLEEPING, VmState.STARTING);

  private final FencedDatabase db;
  private final HostLabelRepository hostLabels = new HostLabelRepository();
  private final HostRepository hosts;
  private final VmRepository vms;
  private final EventRepository events;
  private final InventoryListener inventory;
  private final AgentRegistry registry;
  private final VmChanges vmChanges;
  private final Duration livenessTimeout;
  private final ReportedLoads loads;
  // Hosts the table holds DOWN (refreshed every tick), and those of them that reported since.
  private final Set<String> down = ConcurrentHashMap.newKeySet();
  private final Set<String> resumed = ConcurrentHashMap.newKeySet();
  // Since when this controller watches liveness: a host with no stream is silent since then.
  private volatile Instant watchingSince = Instant.now();
  // When each host last registered or reported, kept after its stream ends: a stream that closes
  // (an agent restarting, or giving up a connection after a partition) is not silence by itself.
  private final Map<String, Instant> lastHeard = new ConcurrentHashMap<>();

  public HostTracker(FencedDatabase db, HostRepository hosts, VmRepository vms, EventRepository events,
      InventoryListener inventory, AgentRegistry registry, VmChanges vmChanges,
      Duration livenessTimeout, Duration loadPersistInterval) {
    this.db = db;
    this.hosts = hosts;
    this.vms = vms;
    this.events = events;
    this.inventory = inventory;
    this.registry = registry;
    this.vmChanges = vmChanges;
    this.livenessTimeout = livenessTimeout;
    this.loads = new ReportedLoads(loadPersistInterval);
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
    Map<String, String> labels = LabelSyntax.labels("labels", r.getLabelsMap());
    db.inTransaction(tx -> {
      var before = hosts.register(tx, r.getHostId(), r.getAddress().isEmpty() ? "127.0.0.1" : r.getAddress(),
          r.getHypervisor(), r.getCapacity().getVcpus(), r.getCapacity().getMemoryMb(),
          r.getCapacity().getDiskMb(), AgentProtocol.load(r.getLoad()));
      hostLabels.replaceAgentLabels(tx, r.getHostId(), labels);
      if (before.isEmpty() || before.get() == HostStatus.DOWN) {
        events.append(tx, "HOST_STATUS", null, r.getHostId(), null,
            before.map(Enum::name).orElse(null), "UP", "agent registered");
      }
      return null;
    });
    Instant now = Instant.now();
    loads.stored(r.getHostId(), AgentProtocol.load(r.getLoad()), now);
    down.remove(r.getHostId());
    resumed.remove(r.getHostId());
    lastHeard.put(r.getHostId(), now);
    List<UUID> toDrive = new ArrayList<>(inventory.apply(r.getHostId(), r.getInventoryList(), true));
    toDrive.addAll(db.inTransaction(tx -> vms.onHost(tx, r.getHostId())).stream()
        .filter(vm -> !vm.settled()).map(VmRecord::id).toList());
    return toDrive;
  }

  @Override
  public List<UUID> reported(String hostId, LoadReport report) {
    Instant now = Instant.now();
    lastHeard.put(hostId, now);
    loads.reported(hostId, AgentProtocol.load(report.getLoad()), now);
    if (down.contains(hostId)) {
      // Reports on a stream we had given up on: the host is back without reconnecting.
      resumed.add(hostId);
    }
    if (report.getDomainsUnknown()) {
      // libvirtd is away (restarting): the host lives, and its VMs are as they were.
      return List.of();
    }
    return inventory.apply(hostId, report.getDomainsList(), false);
  }

  @Override
  public boolean alive(String hostId, HostLoad loadOrNull) {
    Instant now = Instant.now();
    lastHeard.put(hostId, now);
    if (loadOrNull != null) {
      loads.reported(hostId, loadOrNull, now);
    }
    if (down.contains(hostId)) {
      resumed.add(hostId);
    }
    return !inventory.steady(hostId);
  }

  @Override
  public void vmsChanged(List<UUID> vmIds) {
    vmChanges.drive(vmIds);
  }

  /**
   * The leader's once-a-second duty: writes what reports changed, tells the inventory reconciler
   * which hosts' VMs changed, and marks silent hosts DOWN. Each part is skipped on its own when
   * the database fails; what it would have written waits for the next tick.
   */
  public void tick() {
    try {
      flush();
    } catch (DatabaseException e) {
      LOG.log(Level.WARNING, "host loads not written this tick: {0}", e.getMessage());
    }
    try {
      inventory.noteChanges();
    } catch (DatabaseException e) {
      LOG.log(Level.WARNING, "VM changes not read this tick: {0}", e.getMessage());
    }
    checkLiveness();
  }

  /** The changed loads in one statement, and hosts back from DOWN: one transaction, or none. */
  private void flush() {
    Instant now = Instant.now();
    List<HostRepository.LoadRow> due = loads.due(now);
    List<String> back = List.copyOf(resumed);
    if (due.isEmpty() && back.isEmpty()) {
      return;
    }
    db.inTransaction(tx -> {
      hosts.saveLoads(tx, due);
      if (!back.isEmpty()) {
        for (String hostId : hosts.markUpIfDown(tx, back)) {
          events.append(tx, "HOST_STATUS", null, hostId, null, "DOWN", "UP", "reports resumed");
        }
      }
      return null;
    });
    loads.written(due, now);
    back.forEach(hostId -> {
      resumed.remove(hostId);
      down.remove(hostId);
    });
  }

  /** Marks hosts silent for the liveness timeout DOWN. */
  private void checkLiveness() {
    try {
      Instant now = Instant.now();
      Map<String, HostStatus> statuses = db.inTransaction(hosts::statuses);
      down.retainAll(statuses.keySet());
      statuses.forEach((hostId, status) -> {
        if (status == HostStatus.DOWN) {
          down.add(hostId);
        } else {
          down.remove(hostId);
        }
      });
      for (Map.Entry<String, HostStatus> host : statuses.entrySet()) {
        if (host.getValue() == HostStatus.DOWN) {
          continue;
        }
        Instant heard = lastHeard.getOrDefault(host.getKey(), watchingSince);
        Instant last = registry.session(host.getKey()).map(AgentSession::lastReport)
            .orElse(heard.isAfter(watchingSince) ? heard : watchingSince);
        if (Duration.between(last, now).compareTo(livenessTimeout) > 0) {
          markDown(host.getKey(), Duration.between(last, now));
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
    down.add(hostId);
    // Its VMs changed: its next report is squared with the table, not taken as known.
    inventory.hostChanged(hostId);
    LOG.warning("host " + hostId + " is DOWN (" + cause + "); " + lost.size() + " VMs UNKNOWN");
    lost.forEach(vmChanges::changed);
  }
}
