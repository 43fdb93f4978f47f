package org.servicefarm.controller.placement;

import java.sql.SQLException;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Function;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ReclaimRepository;
import org.servicefarm.controller.model.FarmException;

/**
 * Places a VM for a project the way the farm fills itself: within other projects' reservations
 * ({@link ReservationCheck}) on a host with room ({@link Placer}), and when no host has room,
 * on a host where archiving idle (or preemptible lower-priority) VMs makes it ({@link Reclaimer}).
 * Only when neither works is the request refused, NoCapacity with both reasons.
 */
public final class ReclaimingPlacer {
  /**
   * Who a VM is placed for.
   *
   * @param definition the VM's definition, whose priority ranks the request
   * @param description for events, e.g. "service redis of project a"
   */
  public record Claimant(String project, String definition, String description) {}

  private final Placer placer;
  private final ReservationCheck reservations;
  private final Reclaimer reclaimer;
  private final ReclaimRepository reclaims;

  public ReclaimingPlacer(Placer placer, ReservationCheck reservations, Reclaimer reclaimer,
      ReclaimRepository reclaims) {
    this.placer = placer;
    this.reservations = reservations;
    this.reclaimer = reclaimer;
    this.reclaims = reclaims;
  }

  /**
   * Records the VM on a host (making room if needed) inside the caller's transaction.
   *
   * @param placedId the id of the VM a commit recorded, or empty when it recorded none
   * @throws FarmException.NoCapacity when no room can be found or made, with the reasons
   * @throws FarmException.Unavailable when no host can take VMs at all
   */
  public <T> T place(Database.Tx tx, PlacementRequest request, Claimant claimant,
      Placer.Commit<T> commit, Function<T, Optional<UUID>> placedId) throws SQLException {
    ReservationCheck.FarmShortfall farm =
        reservations.shortfall(tx, claimant.project(), request);
    String full;
    if (!farm.isShort()) {
      try {
        return placer.place(tx, request, commit);
      } catch (FarmException.NoCapacity noRoom) {
        full = noRoom.getMessage();
      }
    } else {
      full = farm.reservations();
    }
    ReclaimPlan.Claim claim = new ReclaimPlan.Claim(claimant.project(),
        reclaims.rank(tx, claimant.definition()).priority(), request.vcpus(), request.memoryMb());
    Reclaimer.Outcome<T> made = reclaimer.reclaim(tx, request, claim, farm,
        claimant.description(), commit, placedId);
    return made.placed().orElseThrow(() -> new FarmException.NoCapacity(full + "; and "
        + made.whyNot()));
  }
}
