package org.servicefarm.client;

import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.servicefarm.api.v1.DefineServiceRequest;
import org.servicefarm.api.v1.DeleteServiceRequest;
import org.servicefarm.api.v1.DeleteServiceResponse;
import org.servicefarm.api.v1.FarmAdminGrpc;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.Image;
import org.servicefarm.api.v1.ListHostsRequest;
import org.servicefarm.api.v1.ListHostsResponse;
import org.servicefarm.api.v1.ListImagesRequest;
import org.servicefarm.api.v1.ListImagesResponse;
import org.servicefarm.api.v1.ListServiceDefinitionsRequest;
import org.servicefarm.api.v1.ListServiceDefinitionsResponse;
import org.servicefarm.api.v1.ListVmsRequest;
import org.servicefarm.api.v1.ListVmsResponse;
import org.servicefarm.api.v1.RegisterImageRequest;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmActionRequest;
import org.servicefarm.api.v1.VmState;

/**
 * Test-only FarmAdmin over in-memory lists. ListVms hands out {@link #pageSize} VMs a page, with
 * the next VM's index as page token, so tests see real paging.
 */
public final class FakeFarmAdmin extends FarmAdminGrpc.FarmAdminImplBase {

  static final Timestamp CREATED_AT = Timestamp.newBuilder().setSeconds(1_767_225_600).build();

  public final FakeFaults faults = new FakeFaults();
  public final List<Vm> vms = new CopyOnWriteArrayList<>();
  public final List<Host> hosts = new CopyOnWriteArrayList<>();
  public final List<ServiceDefinition> definitions = new CopyOnWriteArrayList<>();
  public final List<Image> images = new CopyOnWriteArrayList<>();
  /** Every ListVms request that arrived, one per page asked for. */
  public final List<ListVmsRequest> listVmsRequests = new CopyOnWriteArrayList<>();
  public volatile int pageSize = 2;

  @Override
  public void listVms(ListVmsRequest request, StreamObserver<ListVmsResponse> observer) {
    listVmsRequests.add(request);
    if (faults.failedPending(observer)) {
      return;
    }
    List<Vm> matching = vms.stream().filter(vm -> matches(request, vm)).toList();
    int from = request.getPageToken().isEmpty() ? 0 : Integer.parseInt(request.getPageToken());
    int to = Math.min(from + pageSize, matching.size());
    observer.onNext(ListVmsResponse.newBuilder()
        .addAllVms(matching.subList(from, to))
        .setNextPageToken(to < matching.size() ? Integer.toString(to) : "")
        .build());
    observer.onCompleted();
  }

  private static boolean matches(ListVmsRequest request, Vm vm) {
    return (request.getState() == VmState.VM_STATE_UNSPECIFIED
            || request.getState() == vm.getState())
        && (request.getHostId().isEmpty() || request.getHostId().equals(vm.getHostId()))
        && (request.getService().isEmpty() || vm.getServicesList().contains(request.getService()));
  }

  public final List<org.servicefarm.api.v1.LabelHostRequest> labelRequests =
      new CopyOnWriteArrayList<>();
  public final List<org.servicefarm.api.v1.SetHostOvercommitRequest> overcommitRequests =
      new CopyOnWriteArrayList<>();

  @Override
  public void labelHost(org.servicefarm.api.v1.LabelHostRequest request,
      StreamObserver<Host> observer) {
    labelRequests.add(request);
    Host.Builder host = Host.newBuilder().setId(request.getHostId())
        .putAllLabels(request.getLabelsMap());
    observer.onNext(host.build());
    observer.onCompleted();
  }

  @Override
  public void setHostOvercommit(org.servicefarm.api.v1.SetHostOvercommitRequest request,
      StreamObserver<Host> observer) {
    overcommitRequests.add(request);
    observer.onNext(Host.newBuilder().setId(request.getHostId())
        .setCpuOvercommit(request.getCpu()).setMemoryOvercommit(request.getMemory()).build());
    observer.onCompleted();
  }

  @Override
  public void listHosts(ListHostsRequest request, StreamObserver<ListHostsResponse> observer) {
    if (!faults.failedPending(observer)) {
      observer.onNext(ListHostsResponse.newBuilder().addAllHosts(hosts).build());
      observer.onCompleted();
    }
  }

  @Override
  public void defineService(DefineServiceRequest request,
      StreamObserver<ServiceDefinition> observer) {
    if (faults.failedPending(observer)) {
      return;
    }
    ServiceDefinition defined = request.getDefinition().toBuilder().setCreatedAt(CREATED_AT).build();
    definitions.add(defined);
    observer.onNext(defined);
    observer.onCompleted();
  }

  @Override
  public void listServiceDefinitions(ListServiceDefinitionsRequest request,
      StreamObserver<ListServiceDefinitionsResponse> observer) {
    if (!faults.failedPending(observer)) {
      observer.onNext(
          ListServiceDefinitionsResponse.newBuilder().addAllDefinitions(definitions).build());
      observer.onCompleted();
    }
  }

  /**
   * Removes the definition; refuses, as the farm does, while VMs offer its service, unless force,
   * which answers their ids.
   */
  @Override
  public void deleteService(DeleteServiceRequest request,
      StreamObserver<DeleteServiceResponse> observer) {
    if (faults.failedPending(observer)) {
      return;
    }
    String name = request.getName();
    if (definitions.stream().noneMatch(d -> d.getName().equals(name))) {
      observer.onError(Status.NOT_FOUND.withDescription("no service definition named '" + name
          + "'").asRuntimeException());
      return;
    }
    List<String> vmIds = vms.stream().filter(vm -> vm.getServicesList().contains(name))
        .map(Vm::getId).toList();
    if (!vmIds.isEmpty() && !request.getForce()) {
      observer.onError(Status.FAILED_PRECONDITION.withDescription("definition '" + name
          + "' has VMs " + vmIds).asRuntimeException());
      return;
    }
    definitions.removeIf(d -> d.getName().equals(name));
    observer.onNext(DeleteServiceResponse.newBuilder().setName(name).addAllDeletedVmIds(vmIds)
        .build());
    observer.onCompleted();
  }

  /** The dry_run of the last CollectBlobs. */
  public volatile Boolean lastCollectDryRun;

  @Override
  public void collectBlobs(org.servicefarm.api.v1.CollectBlobsRequest request,
      StreamObserver<org.servicefarm.api.v1.CollectBlobsResponse> observer) {
    lastCollectDryRun = request.getDryRun();
    observer.onNext(org.servicefarm.api.v1.CollectBlobsResponse.newBuilder()
        .setDryRun(request.getDryRun())
        .addBlobs(org.servicefarm.api.v1.CollectedBlob.newBuilder().setSha256("ab".repeat(32))
            .setSizeBytes(4096).setStoredAt(CREATED_AT))
        .setFreedBytes(4096).setKeptBlobs(3).setKeptBytes(1000).setYoungBlobs(1).build());
    observer.onCompleted();
  }

  @Override
  public void registerImage(RegisterImageRequest request, StreamObserver<Image> observer) {
    if (faults.failedPending(observer)) {
      return;
    }
    Image image = Image.newBuilder().setId("img-" + (images.size() + 1)).setName(request.getName())
        .setSha256(request.getSha256()).setSizeBytes(request.getSizeBytes())
        .setFormat(request.getFormat()).setSourcePath(request.getSourcePath())
        .setCreatedAt(CREATED_AT).build();
    images.add(image);
    observer.onNext(image);
    observer.onCompleted();
  }

  @Override
  public void listImages(ListImagesRequest request, StreamObserver<ListImagesResponse> observer) {
    if (!faults.failedPending(observer)) {
      observer.onNext(ListImagesResponse.newBuilder().addAllImages(images).build());
      observer.onCompleted();
    }
  }

  @Override
  public void suspendVm(VmActionRequest request, StreamObserver<Vm> observer) {
    setDesiredState(request, VmState.VM_STATE_SLEEPING, observer);
  }

  @Override
  public void resumeVm(VmActionRequest request, StreamObserver<Vm> observer) {
    setDesiredState(request, VmState.VM_STATE_ACTIVE, observer);
  }

  @Override
  public void archiveVm(VmActionRequest request, StreamObserver<Vm> observer) {
    setDesiredState(request, VmState.VM_STATE_ARCHIVED, observer);
  }

  @Override
  public void restoreVm(VmActionRequest request, StreamObserver<Vm> observer) {
    setDesiredState(request, VmState.VM_STATE_ACTIVE, observer);
  }

  @Override
  public void deleteVm(VmActionRequest request, StreamObserver<Vm> observer) {
    setDesiredState(request, VmState.VM_STATE_DELETED, observer);
  }

  /** Every VM action asked for, in order (with its force flag). */
  public final List<VmActionRequest> vmActions = new java.util.concurrent.CopyOnWriteArrayList<>();

  /** Like the controller: an action changes the desired state; observed state follows later. */
  private void setDesiredState(VmActionRequest request, VmState desired,
      StreamObserver<Vm> observer) {
    if (faults.failedPending(observer)) {
      return;
    }
    vmActions.add(request);
    for (int i = 0; i < vms.size(); i++) {
      if (vms.get(i).getId().equals(request.getVmId())) {
        Vm changed = vms.get(i).toBuilder().setDesiredState(desired).build();
        vms.set(i, changed);
        observer.onNext(changed);
        observer.onCompleted();
        return;
      }
    }
    observer.onError(Status.NOT_FOUND.withDescription("no VM " + request.getVmId())
        .asRuntimeException());
  }
}
