package org.servicefarm.controller.api;

import io.grpc.stub.StreamObserver;
import org.servicefarm.api.v1.CreateProjectRequest;
import org.servicefarm.api.v1.DeleteProjectRequest;
import org.servicefarm.api.v1.GetProjectUsageRequest;
import org.servicefarm.api.v1.ListProjectsRequest;
import org.servicefarm.api.v1.ListProjectsResponse;
import org.servicefarm.api.v1.Project;
import org.servicefarm.api.v1.ProjectAdminGrpc;
import org.servicefarm.api.v1.ProjectQuota;
import org.servicefarm.api.v1.ProjectUsage;
import org.servicefarm.api.v1.ProjectReservation;
import org.servicefarm.api.v1.SetProjectQuotaRequest;
import org.servicefarm.api.v1.SetProjectReservationRequest;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.auth.Caller;
import org.servicefarm.controller.model.ProjectRecord;
import org.servicefarm.controller.model.ProjectScope;
import org.servicefarm.controller.projects.ProjectRegistry;
import org.servicefarm.controller.projects.ProjectReservations;

/**
 * ProjectAdmin: projects, their quotas and reservations. Creating, deleting and setting quotas
 * and reservations need a
 * farm-wide admin token; a project's tokens see their own project only.
 */
public final class ProjectAdminService extends ProjectAdminGrpc.ProjectAdminImplBase {
  private final ProjectRegistry projects;
  private final ProjectReservations reservations;

  public ProjectAdminService(ProjectRegistry projects, ProjectReservations reservations) {
    this.projects = projects;
    this.reservations = reservations;
  }

  @Override
  public void createProject(CreateProjectRequest req, StreamObserver<Project> out) {
    ProjectGate.requireFarmWide("creating a project");
    out.onNext(toProto(projects.create(req.getName(), quota(req.getQuota(), false))));
    out.onCompleted();
  }

  @Override
  public void listProjects(ListProjectsRequest req, StreamObserver<ListProjectsResponse> out) {
    ListProjectsResponse.Builder resp = ListProjectsResponse.newBuilder();
    projects.list(Caller.scope()).forEach(p -> resp.addProjects(toProto(p)));
    out.onNext(resp.build());
    out.onCompleted();
  }

  @Override
  public void deleteProject(DeleteProjectRequest req, StreamObserver<Project> out) {
    ProjectGate.requireFarmWide("deleting a project");
    out.onNext(toProto(projects.delete(req.getName())));
    out.onCompleted();
  }

  @Override
  public void setProjectQuota(SetProjectQuotaRequest req, StreamObserver<Project> out) {
    ProjectGate.requireFarmWide("setting a project's quota");
    out.onNext(toProto(projects.setQuota(req.getName(), quota(req.getQuota(), true))));
    out.onCompleted();
  }

  @Override
  public void setProjectReservation(SetProjectReservationRequest req,
      StreamObserver<Project> out) {
    ProjectGate.requireFarmWide("setting a project's reservation");
    ProjectReservation r = req.getReservation();
    reservations.set(req.getName(),
        (int) Validation.range("reservation.vcpus", r.getVcpus(), 0, 100_000),
        Validation.range("reservation.memory_mb", r.getMemoryMb(), 0, 1L << 40));
    out.onNext(toProto(projects.get(Caller.scope(), req.getName())));
    out.onCompleted();
  }

  @Override
  public void getProjectUsage(GetProjectUsageRequest req, StreamObserver<Project> out) {
    ProjectScope scope = Caller.scope();
    String name = req.getName().isEmpty() ? scope.project() : req.getName();
    if (name == null) {
      throw new FarmException.InvalidInput("name is empty: a farm-wide caller names the project");
    }
    out.onNext(toProto(projects.get(scope, name)));
    out.onCompleted();
  }

  /**
   * The limits a request gives; a negative one means "no limit" where removal is allowed
   * ({@code removable}), and is refused otherwise.
   */
  private static ProjectRecord.Quota quota(ProjectQuota q, boolean removable) {
    return new ProjectRecord.Quota(
        q.hasVcpus() ? (int) limit("quota.vcpus", q.getVcpus(), removable) : null,
        q.hasMemoryMb() ? limit("quota.memory_mb", q.getMemoryMb(), removable) : null,
        q.hasVms() ? (int) limit("quota.vms", q.getVms(), removable) : null,
        q.hasStoredBytes() ? limit("quota.stored_bytes", q.getStoredBytes(), removable) : null);
  }

  private static long limit(String field, long value, boolean removable) {
    if (value < 0 && !removable) {
      throw new FarmException.InvalidInput(field + ": " + value + " is negative; leave it unset"
          + " for no limit");
    }
    return value < 0 ? -1 : value;
  }

  private Project toProto(ProjectRegistry.ProjectView view) {
    ProjectRecord p = view.project();
    ProjectQuota.Builder quota = ProjectQuota.newBuilder();
    if (p.quota().vcpus() != null) {
      quota.setVcpus(p.quota().vcpus());
    }
    if (p.quota().memoryMb() != null) {
      quota.setMemoryMb(p.quota().memoryMb());
    }
    if (p.quota().vms() != null) {
      quota.setVms(p.quota().vms());
    }
    if (p.quota().storedBytes() != null) {
      quota.setStoredBytes(p.quota().storedBytes());
    }
    ProjectRecord.Usage u = view.usage();
    return Project.newBuilder().setName(p.name())
        .setCreatedAt(ProtoMapping.timestamp(p.createdAt()))
        .setQuota(quota)
        .setUsage(ProjectUsage.newBuilder().setVcpus(u.vcpus()).setMemoryMb(u.memoryMb())
            .setVms(u.vms()).setStoredBytes(u.storedBytes()))
        .setReservation(reservations.of(p.name())
            .map(r -> ProjectReservation.newBuilder().setVcpus(r.vcpus())
                .setMemoryMb(r.memoryMb()).build())
            .orElse(ProjectReservation.getDefaultInstance()))
        .build();
  }
}
