package org.servicefarm.controller.projects;

import java.sql.SQLException;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ProjectRepository;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.ProjectRecord;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.ProjectRecord.Quota;
import org.servicefarm.controller.model.ProjectRecord.Usage;

/**
 * Admits a VM or stored bytes into a project only within its quota, inside the transaction that
 * records them. A project with a quota is checked under its quota lock, held until that
 * transaction commits, so concurrent requests are admitted one at a time and none sees usage the
 * one before it is about to add: a burst at the edge never overshoots. A project without a
 * quota (as every project is until one is set) takes no lock and costs one read.
 */
public final class QuotaGuard {
  private final ProjectRepository projects;

  public QuotaGuard(ProjectRepository projects) {
    this.projects = projects;
  }

  /**
   * Admits one more VM of these resources into the project.
   *
   * @throws FarmException.QuotaExceeded naming the quota, the usage and the limit
   * @throws FarmException.NotFound when the project was deleted
   */
  public void admitVm(Database.Tx tx, String project, int vcpus, long memoryMb)
      throws SQLException {
    Quota quota = quotaOf(tx, project);
    if (quota.vcpus() == null && quota.memoryMb() == null && quota.vms() == null) {
      return;
    }
    projects.lockForQuota(tx, project);
    Usage used = projects.usage(tx, project);
    refuseOver(project, "vcpus", used.vcpus(), vcpus, quota.vcpus());
    refuseOver(project, "memory_mb", used.memoryMb(), memoryMb, quota.memoryMb());
    refuseOver(project, "vms", used.vms(), 1, quota.vms());
  }

  /**
   * Admits an existing VM back into its project's quota before it is wanted running again (an
   * archived VM woken or restored); one already counted (wanted ACTIVE or SLEEPING) passes.
   */
  public void admitReturning(Database.Tx tx, VmRecord vm) throws SQLException {
    if (vm.desiredState() != DesiredState.ACTIVE && vm.desiredState() != DesiredState.SLEEPING) {
      admitVm(tx, vm.project(), vm.vcpus(), vm.memoryMb());
    }
  }

  /** Admits {@code bytes} more stored bytes (an image) into the project. */
  public void admitBytes(Database.Tx tx, String project, long bytes) throws SQLException {
    Quota quota = quotaOf(tx, project);
    if (quota.storedBytes() == null) {
      return;
    }
    projects.lockForQuota(tx, project);
    refuseOver(project, "stored_bytes", projects.usage(tx, project).storedBytes(), bytes,
        quota.storedBytes());
  }

  private Quota quotaOf(Database.Tx tx, String project) throws SQLException {
    return projects.find(tx, project).map(ProjectRecord::quota)
        .orElseThrow(() -> new FarmException.NotFound("no project '" + project + "'"));
  }

  private static void refuseOver(String project, String quota, long used, long more,
      Number limit) {
    if (limit != null && used + more > limit.longValue()) {
      throw new FarmException.QuotaExceeded("quota " + quota + " of project '" + project
          + "' would be passed: usage " + used + ", limit " + limit + ", this needs " + more
          + " more (farmctl project usage " + project + ")");
    }
  }
}
