package org.servicefarm.controller.placement;

import java.sql.SQLException;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ProjectRepository;
import org.servicefarm.controller.projects.QuotaGuard;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.ServiceDefinitionRecord;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.placement.Placer;

/**
 * Records a new VM of a definition in PROVISIONING on the least-loaded host with room, inside the
 * caller's transaction (which holds the definition's advisory lock). Shared by the request method
 * and the idle ladder's warm pool, so both place alike.
 */
public final class VmProvisioner {
  private final VmRepository vms;
  private final Placer placer;
  private final ImageDigests imageDigest;
  private final QuotaGuard quotas;
  /** Placement that respects reservations and makes room; null: plain placement. */
  private final ReclaimingPlacer reclaiming;

  public VmProvisioner(VmRepository vms, Placer placer, ImageDigests imageDigest) {
    this(vms, placer, imageDigest, new QuotaGuard(new ProjectRepository()));
  }

  public VmProvisioner(VmRepository vms, Placer placer, ImageDigests imageDigest,
      QuotaGuard quotas) {
    this(vms, placer, imageDigest, quotas, null);
  }

  public VmProvisioner(VmRepository vms, Placer placer, ImageDigests imageDigest,
      QuotaGuard quotas, ReclaimingPlacer reclaiming) {
    this.quotas = quotas;
    this.vms = vms;
    this.placer = placer;
    this.imageDigest = imageDigest;
    this.reclaiming = reclaiming;
  }

  /**
   * @param cause why the VM is built, for its first event
   * @throws org.servicefarm.controller.model.FarmException.NoCapacity when no host has room
   * @throws org.servicefarm.controller.model.FarmException.Unavailable when no host is connected
   */
  public VmRecord provision(Database.Tx tx, ServiceDefinitionRecord def, String cause)
      throws SQLException {
    return provision(tx, def, def.project(), cause);
  }

  /**
   * As above, for {@code project} (a shared definition's VMs belong to the project that asked),
   * within the project's quota.
   *
   * @throws org.servicefarm.controller.model.FarmException.QuotaExceeded when the VM would pass it
   */
  public VmRecord provision(Database.Tx tx, ServiceDefinitionRecord def, String project,
      String cause) throws SQLException {
    quotas.admitVm(tx, project, def.vcpus(), def.memoryMb());
    PlacementRequest request =
        Placer.request(tx, imageDigest, def.imageId(), def.vcpus(), def.memoryMb())
            .withRules(placer.rules(tx, def.name(), project));
    Placer.Commit<VmRecord> commit = (t, hostId) -> vms.insertProvisioning(t, def.name(),
        def.imageId(), hostId, def.vcpus(), def.memoryMb(), project,
        cause + "; placed on host " + hostId);
    if (reclaiming == null) {
      return placer.place(tx, request, commit);
    }
    return reclaiming.place(tx, request, new ReclaimingPlacer.Claimant(project, def.name(),
        "service " + def.name() + " of project " + project), commit,
        vm -> java.util.Optional.of(vm.id()));
  }

  /**
   * Admits an existing VM back into its project's quota before it is wanted running again (a
   * woken archived VM); one already counted (wanted ACTIVE or SLEEPING) passes without a check.
   */
  public void admitReturning(Database.Tx tx, VmRecord vm) throws SQLException {
    quotas.admitReturning(tx, vm);
  }
}
