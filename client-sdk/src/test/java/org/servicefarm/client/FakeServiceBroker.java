package org.servicefarm.client;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.servicefarm.api.v1.GetVmRequest;
import org.servicefarm.api.v1.Lease;
import org.servicefarm.api.v1.ListServicesRequest;
import org.servicefarm.api.v1.ListServicesResponse;
import org.servicefarm.api.v1.ReleaseLeaseRequest;
import org.servicefarm.api.v1.ReleaseLeaseResponse;
import org.servicefarm.api.v1.RenewLeaseRequest;
import org.servicefarm.api.v1.RequestServiceRequest;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.ServiceBrokerGrpc;
import org.servicefarm.api.v1.Vm;

/** Test-only ServiceBroker: answers what the test told it to, and remembers what it was asked. */
public final class FakeServiceBroker extends ServiceBrokerGrpc.ServiceBrokerImplBase {

  public final FakeFaults faults = new FakeFaults();
  /** Failures of RenewLease and ReleaseLease only, so a test can fail renewals, not requests. */
  public final FakeFaults leaseFaults = new FakeFaults();
  private final List<RenewLeaseRequest> renewals = new CopyOnWriteArrayList<>();
  private final List<String> releases = new CopyOnWriteArrayList<>();
  private volatile boolean leasesEnded;
  private final Map<String, RequestServiceResponse> answers = new ConcurrentHashMap<>();
  private final Map<String, Status> refusals = new ConcurrentHashMap<>();
  private final Map<String, Vm> vms = new ConcurrentHashMap<>();
  private final List<RequestServiceRequest> requests = new CopyOnWriteArrayList<>();
  private volatile ListServicesResponse services = ListServicesResponse.getDefaultInstance();
  private volatile boolean silent;

  /** RequestService for {@code service} answers {@code response}. */
  public void answer(String service, RequestServiceResponse response) {
    answers.put(service, response);
  }

  /** RequestService for {@code service} always fails with {@code status}. */
  public void refuse(String service, Status status) {
    refusals.put(service, status);
  }

  public void offer(ListServicesResponse response) {
    services = response;
  }

  public void addVm(Vm vm) {
    vms.put(vm.getId(), vm);
  }

  /** From now on RequestService never answers, as a farm stuck building a VM would. */
  public void neverAnswer() {
    silent = true;
  }

  /** From now on RenewLease answers that the lease expired, as after a long outage. */
  public void endLeases() {
    leasesEnded = true;
  }

  /** Every RenewLease that was answered, in order. */
  public List<RenewLeaseRequest> renewals() {
    return List.copyOf(renewals);
  }

  /** The ids of every ReleaseLease that was answered, in order. */
  public List<String> releases() {
    return List.copyOf(releases);
  }

  /** Every RequestService that arrived, in order, failed ones included. */
  public List<RequestServiceRequest> requests() {
    return List.copyOf(requests);
  }

  @Override
  public void requestService(
      RequestServiceRequest request, StreamObserver<RequestServiceResponse> observer) {
    requests.add(request);
    if (faults.failedPending(observer) || silent) {
      return;
    }
    Status refusal = refusals.get(request.getService());
    RequestServiceResponse answer = answers.get(request.getService());
    if (refusal != null) {
      observer.onError(refusal.asRuntimeException());
    } else if (answer == null) {
      observer.onError(Status.NOT_FOUND
          .withDescription("no service \"" + request.getService() + "\" is offered or defined")
          .asRuntimeException());
    } else {
      observer.onNext(answer);
      observer.onCompleted();
    }
  }

  /** Renews any lease id for the TTL asked (default 1 s) from now. */
  @Override
  public void renewLease(RenewLeaseRequest request, StreamObserver<Lease> observer) {
    if (leaseFaults.failedPending(observer)) {
      return;
    }
    if (leasesEnded) {
      observer.onError(Status.FAILED_PRECONDITION.withDescription("cannot renew lease "
          + request.getLeaseId() + ": it expired").asRuntimeException());
      return;
    }
    renewals.add(request);
    int ttl = request.getTtlSeconds() == 0 ? 1 : request.getTtlSeconds();
    long expires = System.currentTimeMillis() / 1000 + ttl;
    observer.onNext(Lease.newBuilder().setId(request.getLeaseId()).setVmId("vm-7")
        .setService("redis").setTtlSeconds(ttl)
        .setExpiresAt(com.google.protobuf.Timestamp.newBuilder().setSeconds(expires)).build());
    observer.onCompleted();
  }

  @Override
  public void releaseLease(
      ReleaseLeaseRequest request, StreamObserver<ReleaseLeaseResponse> observer) {
    if (leaseFaults.failedPending(observer)) {
      return;
    }
    releases.add(request.getLeaseId());
    observer.onNext(ReleaseLeaseResponse.getDefaultInstance());
    observer.onCompleted();
  }

  @Override
  public void listServices(
      ListServicesRequest request, StreamObserver<ListServicesResponse> observer) {
    if (faults.failedPending(observer)) {
      return;
    }
    observer.onNext(services);
    observer.onCompleted();
  }

  @Override
  public void getVm(GetVmRequest request, StreamObserver<Vm> observer) {
    if (faults.failedPending(observer)) {
      return;
    }
    Vm vm = vms.get(request.getVmId());
    if (vm == null) {
      observer.onError(Status.NOT_FOUND.withDescription("no VM " + request.getVmId())
          .asRuntimeException());
      return;
    }
    observer.onNext(vm);
    observer.onCompleted();
  }
}
