package org.servicefarm.controller.hosts;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.FencedDatabase;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.HostRecord;
import org.servicefarm.controller.model.HostRecord.HostStatus;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/**
 * Draining a host: it takes no new VMs (the scheduler refuses DRAINING hosts) and each of its
 * settled ACTIVE or SLEEPING VMs is archived and then restored elsewhere ({@link DrainRelocation}),
 * keeping its id. VMs in transition are moved once they settle: a periodic pass over draining
 * hosts picks them up, and also any VM whose move a request overrode. Uncordoning lets the host
 * take VMs again; moves already under way finish.
 */
public final class HostDrainer {
  private static final Logger LOG = Logger.getLogger(HostDrainer.class.getName());
  /** How often the leader runs a drain pass. */
  public static final long PASS_MILLIS = 2_000;

  private final FencedDatabase db;
  private final HostRepository hosts;
  private final VmRepository vms;
  private final EventRepository events;
  private final VmChanges vmChanges;

  public HostDrainer(FencedDatabase db, HostRepository hosts, VmRepository vms, EventRepository events,
      VmChanges vmChanges) {
    this.db = db;
    this.hosts = hosts;
    this.vms = vms;
    this.events = events;
    this.vmChanges = vmChanges;
  }

  /** Marks the host DRAINING and starts moving its VMs; returns the host once started. */
  public HostRecord drain(String hostId) {
    List<UUID> moving = db.inTransaction(tx -> {
      HostRecord host = hosts.find(tx, hostId)
          .orElseThrow(() -> new FarmException.NotFound("no host with id " + hostId));
      if (host.status() == HostStatus.DOWN) {
        throw new FarmException.Conflict("host " + hostId + " is DOWN: its VMs cannot be moved"
            + " until its agent reports again");
      }
      if (hosts.setStatus(tx, hostId, HostStatus.DRAINING).isPresent()) {
        events.append(tx, "HOST_STATUS", null, hostId, null, host.status(), HostStatus.DRAINING,
            "admin: drain; its VMs move to other hosts");
      }
      return startMoves(tx, hostId);
    });
    vmChanges.drive(moving);
    return find(hostId);
  }

  /** Lets the host take new VMs again. */
  public HostRecord uncordon(String hostId) {
    db.inTransaction(tx -> {
      HostRecord host = hosts.find(tx, hostId)
          .orElseThrow(() -> new FarmException.NotFound("no host with id " + hostId));
      if (host.status() == HostStatus.DOWN) {
        throw new FarmException.Conflict("host " + hostId + " is DOWN; it is UP again once its"
            + " agent reports");
      }
      if (hosts.setStatus(tx, hostId, HostStatus.UP).isPresent()) {
        events.append(tx, "HOST_STATUS", null, hostId, null, host.status(), HostStatus.UP,
            "admin: uncordon; the host takes new VMs again");
      }
      return null;
    });
    return find(hostId);
  }

  private HostRecord find(String hostId) {
    return db.inTransaction(tx -> hosts.find(tx, hostId))
        .orElseThrow(() -> new FarmException.NotFound("no host with id " + hostId));
  }

  /** Plans the move of every settled ACTIVE or SLEEPING VM on the host; returns their ids. */
  private List<UUID> startMoves(Database.Tx tx, String hostId) throws java.sql.SQLException {
    List<UUID> moving = new ArrayList<>();
    for (VmRecord vm : vms.onHost(tx, hostId)) {
      boolean settledUp = vm.settled()
          && (vm.state() == VmState.ACTIVE || vm.state() == VmState.SLEEPING);
      if (settledUp) {
        DesiredState returnTo = vm.desiredState();
        vms.moveAway(tx, vm, returnTo, "drain of host " + hostId
                + ": archive, then restore on another host as " + returnTo)
            .ifPresent(moved -> moving.add(moved.id()));
      }
    }
    return moving;
  }

  /** Moves the VMs of draining hosts that have settled since the last pass. */
  /** One drain pass; the leader runs it periodically (see ha.LeaderDuties). */
  public void pass() {
    try {
      for (HostRecord host : db.inTransaction(hosts::list)) {
        if (host.status() == HostStatus.DRAINING) {
          vmChanges.drive(db.inTransaction(tx -> startMoves(tx, host.id())));
        }
      }
    } catch (DatabaseException e) {
      LOG.log(Level.WARNING, "drain pass skipped: {0}", e.getMessage());
    } catch (RuntimeException e) {
      // Must not escape: a periodic task that throws is never run again.
      LOG.log(Level.SEVERE, "drain pass failed", e);
    }
  }
}
