package org.servicefarm.client;

import io.grpc.MethodDescriptor;
import java.time.Duration;
import java.util.List;
import org.servicefarm.api.v1.CreateProjectRequest;
import org.servicefarm.api.v1.DeleteProjectRequest;
import org.servicefarm.api.v1.GetProjectUsageRequest;
import org.servicefarm.api.v1.ListProjectsRequest;
import org.servicefarm.api.v1.Project;
import org.servicefarm.api.v1.ProjectAdminGrpc;
import org.servicefarm.api.v1.ProjectAdminGrpc.ProjectAdminBlockingStub;
import org.servicefarm.api.v1.ProjectQuota;
import org.servicefarm.api.v1.ProjectReservation;
import org.servicefarm.api.v1.SetProjectQuotaRequest;
import org.servicefarm.api.v1.SetProjectReservationRequest;

/**
 * Projects, their quotas, reservations and usage, from {@link FarmClient#projects()}. Creating,
 * deleting and setting quotas and reservations need a farm-wide admin token; reads are retried,
 * changes are not.
 */
public final class ProjectCalls {
  private final ProjectAdminBlockingStub stub;
  private final UnaryCaller caller;
  private final Duration callDeadline;

  ProjectCalls(ProjectAdminBlockingStub stub, UnaryCaller caller, Duration callDeadline) {
    this.stub = stub;
    this.caller = caller;
    this.callDeadline = callDeadline;
  }

  /** A new project with these limits (an unset field: no limit). */
  public Project create(String name, ProjectQuota quota) {
    CreateProjectRequest request =
        CreateProjectRequest.newBuilder().setName(name).setQuota(quota).build();
    return caller.blocking(plan(ProjectAdminGrpc.getCreateProjectMethod(), name, false),
        deadline -> stub.withDeadline(deadline).createProject(request));
  }

  /** The projects the caller sees (all of them for a farm-wide admin), with usage. */
  public List<Project> list() {
    return caller.blocking(plan(ProjectAdminGrpc.getListProjectsMethod(), "", true),
        deadline -> stub.withDeadline(deadline)
            .listProjects(ListProjectsRequest.getDefaultInstance()).getProjectsList());
  }

  /** Deletes an empty project. */
  public Project delete(String name) {
    DeleteProjectRequest request = DeleteProjectRequest.newBuilder().setName(name).build();
    return caller.blocking(plan(ProjectAdminGrpc.getDeleteProjectMethod(), name, false),
        deadline -> stub.withDeadline(deadline).deleteProject(request));
  }

  /** Replaces each limit given (a negative one removes it); the others stay. */
  public Project setQuota(String name, ProjectQuota quota) {
    SetProjectQuotaRequest request =
        SetProjectQuotaRequest.newBuilder().setName(name).setQuota(quota).build();
    return caller.blocking(plan(ProjectAdminGrpc.getSetProjectQuotaMethod(), name, false),
        deadline -> stub.withDeadline(deadline).setProjectQuota(request));
  }

  /**
   * Keeps capacity for the project: other projects' placements treat its unused part as taken,
   * and reclaim for them does not archive the project's VMs counted in it. Zeros remove it.
   */
  public Project reserve(String name, int vcpus, long memoryMb) {
    SetProjectReservationRequest request = SetProjectReservationRequest.newBuilder()
        .setName(name)
        .setReservation(ProjectReservation.newBuilder().setVcpus(vcpus).setMemoryMb(memoryMb))
        .build();
    return caller.blocking(plan(ProjectAdminGrpc.getSetProjectReservationMethod(), name, false),
        deadline -> stub.withDeadline(deadline).setProjectReservation(request));
  }

  /** The project's quota and usage ("": the caller's own project). */
  public Project usage(String name) {
    GetProjectUsageRequest request = GetProjectUsageRequest.newBuilder().setName(name).build();
    return caller.blocking(plan(ProjectAdminGrpc.getGetProjectUsageMethod(), name, true),
        deadline -> stub.withDeadline(deadline).getProjectUsage(request));
  }

  private CallPlan plan(MethodDescriptor<?, ?> method, String subject, boolean retried) {
    return new CallPlan(method, subject, retried, callDeadline);
  }
}
