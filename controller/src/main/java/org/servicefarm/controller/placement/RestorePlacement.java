package org.servicefarm.controller.placement;

import java.sql.SQLException;
import java.util.EnumSet;
import java.util.Optional;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/**
 * Placement of archived VMs that come back: one restored on request ({@link #placeArchived}),
 * and one moved off a draining host once its archive is done ({@link #afterArchived}): placed on another host and
 * restored there, in the transaction that records the archive, so no moment passes in which the
 * VM is archived and nobody remembers it was to come back. Both obey the definition's placement
 * rules, as a new VM does. A VM no other host can take stays
 * ARCHIVED (its disk is safe in the archive store), and its events say why; a later request
 * restores it like any archived VM.
 */
public final class RestorePlacement {
  private final VmRepository vms;
  private final EventRepository events;
  private final Placer placer;
  private final ImageDigests imageDigest;
  /** Placement that respects reservations and makes room; null: plain placement. */
  private final ReclaimingPlacer reclaiming;

  public RestorePlacement(VmRepository vms, EventRepository events, Placer placer,
      ImageDigests imageDigest) {
    this(vms, events, placer, imageDigest, null);
  }

  public RestorePlacement(VmRepository vms, EventRepository events, Placer placer,
      ImageDigests imageDigest, ReclaimingPlacer reclaiming) {
    this.vms = vms;
    this.events = events;
    this.placer = placer;
    this.imageDigest = imageDigest;
    this.reclaiming = reclaiming;
  }

  /**
   * Places an ARCHIVED VM on a host with room and records it RESTORING there, inside the caller's
   * transaction; empty when the VM is no longer ARCHIVED.
   *
   * @param causePrefix what its event's cause begins with ("" or why it is restored)
   * @throws org.servicefarm.controller.model.FarmException.NoCapacity when no host has room
   * @throws org.servicefarm.controller.model.FarmException.Unavailable when no host can take VMs
   */
  public Optional<VmRecord> placeArchived(Database.Tx tx, VmRecord archived, String causePrefix)
      throws SQLException {
    PlacementRequest request = Placer.request(tx, imageDigest, archived.imageId(),
        archived.vcpus(), archived.memoryMb())
        .withRules(placer.rules(tx, archived.definition(), archived.project()));
    Placer.Commit<Optional<VmRecord>> commit = (t, hostId) -> vms.transition(t, archived.id(),
        EnumSet.of(VmState.ARCHIVED), VmState.RESTORING,
        causePrefix + "restoring on host " + hostId, VmRepository.Change.host(hostId));
    if (reclaiming == null) {
      return placer.place(tx, request, commit);
    }
    return reclaiming.place(tx, request, new ReclaimingPlacer.Claimant(archived.project(),
        archived.definition(), "restore of a VM of " + archived.definition() + " of project "
            + archived.project()), commit, restored -> restored.map(VmRecord::id));
  }

  /**
   * Called with the VM just recorded ARCHIVED; returns it as it is now (RESTORING on another
   * host when it was moved by a drain and a host has room).
   *
   * @param fromHost the host the VM was archived from
   */
  public VmRecord afterArchived(Database.Tx tx, VmRecord archived, String fromHost)
      throws SQLException {
    Optional<DesiredState> returnTo = vms.takeReturn(tx, archived.id());
    if (returnTo.isEmpty()) {
      return archived;
    }
    String drain = "drain of host " + fromHost;
    try {
      VmRecord restoring = placeArchived(tx, archived, drain + ": ")
          .orElseThrow(() -> new IllegalStateException("VM " + archived.id()
              + " left ARCHIVED inside the transaction that recorded it"));
      return vms.setDesired(tx, restoring, returnTo.get(),
          drain + ": back to " + returnTo.get() + " on host " + restoring.hostId());
    } catch (FarmException.NoCapacity | FarmException.Unavailable
        | FarmException.Conflict noHost) {
      // Placement fails before it writes anything, so the archive is still recorded with this.
      events.append(tx, "VM_DESIRED", archived.id(), fromHost, null, returnTo.get(),
          DesiredState.ARCHIVED, drain + ": no other host can take this VM ("
              + noHost.getMessage() + "); it stays ARCHIVED until it is requested or restored");
      return archived;
    }
  }
}
