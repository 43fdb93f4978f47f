package org.servicefarm.controller.placement;

import java.sql.SQLException;
import java.util.EnumSet;
import java.util.Optional;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.placement.PlacementRequest;

/**
 * Where a VM moved off a draining host goes once its archive is done: placed on another host and
 * restored there, in the transaction that records the archive, so no moment passes in which the
 * VM is archived and nobody remembers it was to come back. A VM no other host can take stays
 * ARCHIVED (its disk is safe in the archive store), and its events say why; a later request
 * restores it like any archived VM.
 */
public final class DrainRelocation {
  private final VmRepository vms;
  private final EventRepository events;
  private final Placer placer;
  private final Placer.ImageDigests imageDigest;

  public DrainRelocation(VmRepository vms, EventRepository events, Placer placer,
      Placer.ImageDigests imageDigest) {
    this.vms = vms;
    this.events = events;
    this.placer = placer;
    this.imageDigest = imageDigest;
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
      VmRecord restoring = placer.place(tx,
          Placer.request(tx, imageDigest, archived.imageId(), archived.vcpus(),
              archived.memoryMb()),
          (t, hostId) -> vms.transition(t, archived.id(), EnumSet.of(VmState.ARCHIVED),
                  VmState.RESTORING, drain + ": restoring on host " + hostId,
                  VmRepository.Change.host(hostId))
              .orElseThrow(() -> new IllegalStateException("VM " + archived.id()
                  + " left ARCHIVED inside the transaction that recorded it")));
      return vms.setDesired(tx, restoring, returnTo.get(),
          drain + ": back to " + returnTo.get() + " on host " + restoring.hostId());
    } catch (FarmException.NoCapacity | FarmException.Unavailable noHost) {
      // Placement fails before it writes anything, so the archive is still recorded with this.
      events.append(tx, "VM_DESIRED", archived.id(), fromHost, null, returnTo.get(),
          DesiredState.ARCHIVED, drain + ": no other host can take this VM ("
              + noHost.getMessage() + "); it stays ARCHIVED until it is requested or restored");
      return archived;
    }
  }
}
