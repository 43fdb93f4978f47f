package org.servicefarm.controller.placement;

import java.sql.SQLException;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.placement.Placer;
import org.servicefarm.controller.model.ServiceDefinitionRecord;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.placement.PlacementRequest;

/**
 * Records a new VM of a definition in PROVISIONING on the least-loaded host with room, inside the
 * caller's transaction (which holds the definition's advisory lock). Shared by the request method
 * and the idle ladder's warm pool, so both place alike.
 */
public final class VmProvisioner {
  private final VmRepository vms;
  private final Placer placer;
  private final ImageDigests imageDigest;

  public VmProvisioner(VmRepository vms, Placer placer, ImageDigests imageDigest) {
    this.vms = vms;
    this.placer = placer;
    this.imageDigest = imageDigest;
  }

  /**
   * @param cause why the VM is built, for its first event
   * @throws org.servicefarm.controller.model.FarmException.NoCapacity when no host has room
   * @throws org.servicefarm.controller.model.FarmException.Unavailable when no host is connected
   */
  public VmRecord provision(Database.Tx tx, ServiceDefinitionRecord def, String cause)
      throws SQLException {
    return placer.place(tx,
        Placer.request(tx, imageDigest, def.imageId(), def.vcpus(), def.memoryMb()),
        (t, hostId) -> vms.insertProvisioning(t, def.name(), def.imageId(), hostId, def.vcpus(),
            def.memoryMb(), cause + "; placed on host " + hostId));
  }
}
