package org.servicefarm.controller;

import org.servicefarm.controller.db.ProjectRepository;
import org.servicefarm.controller.db.ReclaimRepository;
import org.servicefarm.controller.db.ReservationRepository;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.placement.ImageDigests;
import org.servicefarm.controller.placement.PlacementScheduler;
import org.servicefarm.controller.placement.Placer;
import org.servicefarm.controller.placement.ReclaimingPlacer;
import org.servicefarm.controller.placement.Reclaimer;
import org.servicefarm.controller.placement.ReservationCheck;
import org.servicefarm.controller.placement.RestorePlacement;
import org.servicefarm.controller.placement.VmProvisioner;
import org.servicefarm.controller.projects.QuotaGuard;

/**
 * The controller's part that places VMs: hosts ranked on a snapshot, the choice verified at
 * commit, for new VMs (the request method and the warm pool alike), restores and drain returns.
 */
final class PlacementPart {
  final ImageDigests digests;
  final Placer placer;
  final VmProvisioner provisioner;
  final RestorePlacement restores;

  PlacementPart(PersistencePart persistence, AgentRegistry agents, double cpuOvercommit) {
    this.digests = ImageDigests.of(persistence.images);
    this.placer = new Placer(persistence.hosts, agents, new PlacementScheduler(cpuOvercommit));
    ReclaimingPlacer reclaiming = reclaimingPlacer(persistence, cpuOvercommit);
    this.provisioner = new VmProvisioner(persistence.vms, placer, digests,
        new QuotaGuard(new ProjectRepository()), reclaiming);
    this.restores = new RestorePlacement(persistence.vms, persistence.events, placer, digests,
        reclaiming);
  }

  /** Placement within reservations that makes room by archiving idle VMs when none is left. */
  private ReclaimingPlacer reclaimingPlacer(PersistencePart p, double cpuOvercommit) {
    ReclaimRepository reclaims = new ReclaimRepository();
    ReservationCheck reservations =
        new ReservationCheck(new ReservationRepository(), p.hosts, cpuOvercommit);
    return new ReclaimingPlacer(placer, reservations, new Reclaimer(placer, p.hosts, reclaims,
        reservations, p.vms, p.leases, p.events, cpuOvercommit), reclaims);
  }
}
