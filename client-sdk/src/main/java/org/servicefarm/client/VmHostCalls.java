package org.servicefarm.client;

import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.servicefarm.api.v1.FarmAdminGrpc;
import org.servicefarm.api.v1.FarmAdminGrpc.FarmAdminBlockingStub;
import org.servicefarm.api.v1.FarmAdminGrpc.FarmAdminFutureStub;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.HostActionRequest;
import org.servicefarm.api.v1.LabelHostRequest;
import org.servicefarm.api.v1.SetHostOvercommitRequest;
import org.servicefarm.api.v1.ListHostsRequest;
import org.servicefarm.api.v1.ListVmsRequest;
import org.servicefarm.api.v1.ListVmsResponse;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmActionRequest;

/**
 * The VM table and host calls of {@link FarmClient}. VM and host actions set a desired state;
 * asking twice for the same state changes nothing more, so they are retried like reads.
 */
final class VmHostCalls {
  private final FarmAdminBlockingStub admin;
  private final FarmAdminFutureStub adminAsync;
  private final UnaryCaller caller;
  private final Duration callDeadline;

  VmHostCalls(FarmAdminBlockingStub admin, FarmAdminFutureStub adminAsync, UnaryCaller caller,
      Duration callDeadline) {
    this.admin = admin;
    this.adminAsync = adminAsync;
    this.caller = caller;
    this.callDeadline = callDeadline;
  }

  List<Vm> listVms(VmFilter filter) {
    List<Vm> vms = new ArrayList<>();
    String pageToken = "";
    do {
      ListVmsRequest request = filter.toRequest().setPageToken(pageToken).build();
      ListVmsResponse page = caller.blocking(plan(FarmAdminGrpc.getListVmsMethod(), ""),
          deadline -> admin.withDeadline(deadline).listVms(request));
      vms.addAll(page.getVmsList());
      pageToken = nextPageToken(page, pageToken);
    } while (!pageToken.isEmpty());
    return vms;
  }

  /** {@link #listVms} without blocking: each page is asked for when the one before arrived. */
  CompletableFuture<List<Vm>> listVmsAsync(VmFilter filter) {
    return pagesFrom(filter, "", new ArrayList<>());
  }

  private CompletableFuture<List<Vm>> pagesFrom(VmFilter filter, String pageToken,
      List<Vm> vmsSoFar) {
    ListVmsRequest request = filter.toRequest().setPageToken(pageToken).build();
    return caller.async(plan(FarmAdminGrpc.getListVmsMethod(), ""),
            deadline -> adminAsync.withDeadline(deadline).listVms(request))
        .thenCompose(page -> {
          vmsSoFar.addAll(page.getVmsList());
          String next = nextPageToken(page, pageToken);
          return next.isEmpty() ? CompletableFuture.completedFuture(List.copyOf(vmsSoFar))
              : pagesFrom(filter, next, vmsSoFar);
        });
  }

  private static String nextPageToken(ListVmsResponse page, String pageToken) {
    if (!page.getNextPageToken().isEmpty() && page.getNextPageToken().equals(pageToken)) {
      // A server handing back the token it was given would keep us here forever.
      throw new FarmException(Status.Code.INTERNAL, "",
          "ListVms returned the same page token twice: \"" + pageToken + "\"", null);
    }
    return page.getNextPageToken();
  }

  List<Host> listHosts() {
    return caller.blocking(plan(FarmAdminGrpc.getListHostsMethod(), ""),
        deadline -> admin.withDeadline(deadline)
            .listHosts(ListHostsRequest.getDefaultInstance()).getHostsList());
  }

  interface HostActionCall {
    Host call(FarmAdminBlockingStub stub, HostActionRequest request);
  }

  Host hostAction(MethodDescriptor<HostActionRequest, Host> method, String hostId,
      HostActionCall action) {
    HostActionRequest request = HostActionRequest.newBuilder()
        .setHostId(Arguments.requireText(hostId, "host id")).build();
    return caller.blocking(plan(method, hostId),
        deadline -> action.call(admin.withDeadline(deadline), request));
  }

  /** Sets and removes an admin's labels of a host; setting the same labels twice is one change. */
  Host labelHost(String hostId, java.util.Map<String, String> labels, List<String> remove) {
    LabelHostRequest request = LabelHostRequest.newBuilder()
        .setHostId(Arguments.requireText(hostId, "host id")).putAllLabels(labels)
        .addAllRemove(remove).build();
    return caller.blocking(plan(FarmAdminGrpc.getLabelHostMethod(), hostId),
        deadline -> admin.withDeadline(deadline).labelHost(request));
  }

  Host setHostOvercommit(SetHostOvercommitRequest request) {
    return caller.blocking(plan(FarmAdminGrpc.getSetHostOvercommitMethod(), request.getHostId()),
        deadline -> admin.withDeadline(deadline).setHostOvercommit(request));
  }

  interface VmActionCall {
    Vm call(FarmAdminBlockingStub stub, VmActionRequest request);
  }

  Vm vmAction(MethodDescriptor<VmActionRequest, Vm> method, String vmId, VmActionCall action) {
    return vmAction(method, vmId, false, action);
  }

  Vm vmAction(MethodDescriptor<VmActionRequest, Vm> method, String vmId, boolean force,
      VmActionCall action) {
    VmActionRequest request = VmActionRequest.newBuilder()
        .setVmId(Arguments.requireText(vmId, "VM id")).setForce(force).build();
    return caller.blocking(plan(method, vmId),
        deadline -> action.call(admin.withDeadline(deadline), request));
  }

  private CallPlan plan(MethodDescriptor<?, ?> method, String subject) {
    return new CallPlan(method, subject, true, callDeadline);
  }
}
