package org.servicefarm.controller;

import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.placement.ImageDigests;
import org.servicefarm.controller.placement.PlacementScheduler;
import org.servicefarm.controller.placement.Placer;
import org.servicefarm.controller.placement.RestorePlacement;
import org.servicefarm.controller.placement.VmProvisioner;

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
    this.provisioner = new VmProvisioner(persistence.vms, placer, digests);
    this.restores = new RestorePlacement(persistence.vms, persistence.events, placer, digests);
  }
}
