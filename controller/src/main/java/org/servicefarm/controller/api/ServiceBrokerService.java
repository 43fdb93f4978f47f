package org.servicefarm.controller.api;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.servicefarm.api.v1.Access;
import org.servicefarm.api.v1.GetVmRequest;
import org.servicefarm.api.v1.Lease;
import org.servicefarm.api.v1.ListServicesRequest;
import org.servicefarm.api.v1.ListServicesResponse;
import org.servicefarm.api.v1.OfferedService;
import org.servicefarm.api.v1.OperationUpdate;
import org.servicefarm.api.v1.ReleaseLeaseRequest;
import org.servicefarm.api.v1.ReleaseLeaseResponse;
import org.servicefarm.api.v1.RenewLeaseRequest;
import org.servicefarm.api.v1.RequestServiceRequest;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.ServiceBrokerGrpc;
import org.servicefarm.api.v1.ServiceGateway;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.WatchOperationRequest;
import org.servicefarm.controller.auth.Caller;
import org.servicefarm.controller.broker.Broker;
import org.servicefarm.controller.broker.Leases;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ProjectOwnership;
import org.servicefarm.controller.model.ProjectScope;
import org.servicefarm.controller.db.VmListings;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.images.ImageCatalog;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.RequestKey;
import org.servicefarm.controller.model.ServiceDefinitionRecord;
import org.servicefarm.controller.operations.OperationTracker;
import org.servicefarm.controller.routes.GatewayAddresses;

/** The clients' API: validates, calls the broker, maps the answer. */
public final class ServiceBrokerService extends ServiceBrokerGrpc.ServiceBrokerImplBase {
  private final Broker broker;
  private final Leases leases;
  private final Database db;
  private final VmRepository vms;
  private final VmListings listings;
  private final ImageCatalog catalog;
  private final Duration requestWait;
  private final OperationWatches operationWatches;
  private final ProjectGate gate;
  private final GatewayAddresses gateways;

  public ServiceBrokerService(Broker broker, Leases leases, Database db, VmRepository vms,
      VmListings listings, ImageCatalog catalog, Duration requestWait, OperationTracker tracker,
      GatewayAddresses gateways) {
    this.gateways = gateways;
    this.operationWatches = new OperationWatches(tracker);
    this.broker = broker;
    this.leases = leases;
    this.db = db;
    this.vms = vms;
    this.listings = listings;
    this.catalog = catalog;
    this.requestWait = requestWait;
    this.gate = new ProjectGate(db, new ProjectOwnership());
  }

  @Override
  public void requestService(RequestServiceRequest req, StreamObserver<RequestServiceResponse> out) {
    String service = Validation.serviceName("service", req.getService());
    // A key is the caller's own: another caller's same key is another request.
    RequestKey key = new RequestKey(Caller.current(),
        Validation.idempotencyKey(req.getIdempotencyKey()), Caller.scope().project());
    int ttl = Validation.leaseTtl("lease_ttl_seconds", req.getLeaseTtlSeconds(),
        Leases.DEFAULT_TTL_SECONDS, Leases.MAX_TTL_SECONDS);
    if (req.getNoWait()) {
      // The operation may take as long as a waiting request would; the caller does not wait.
      Broker.Started started = broker.requestNoWait(service, key, ttl, requestWait);
      out.onNext(withGateway(RequestServiceResponse.newBuilder()
          .setVmId(started.vmId().toString())
          .setState(ProtoMapping.state(started.state()))
          .setCreated(started.created())
          .setOperationId(started.operationId().toString()), service)
          .build());
      out.onCompleted();
      return;
    }
    DeferredAnswer.answer(out, broker.request(service, key, ttl, CallDeadlines.waitFor(requestWait)),
        g -> withGateway(RequestServiceResponse.newBuilder()
            .setVmId(g.vmId().toString())
            .setAccess(Access.newBuilder().setService(g.service()).setHost(g.host())
                .setPort(g.port()))
            .setState(ProtoMapping.state(g.state()))
            .setCreated(g.created())
            .setLease(ProtoMapping.lease(g.lease())), g.service())
            .build());
  }

  private RequestServiceResponse.Builder withGateway(RequestServiceResponse.Builder answer,
      String service) {
    gateways.port(service).ifPresent(port -> answer.setGatewayPort(port)
        .setGatewayAddress(gateways.address(port)));
    return answer;
  }

  @Override
  public void watchOperation(WatchOperationRequest req, StreamObserver<OperationUpdate> out) {
    java.util.UUID id = Validation.operationId(req.getOperationId());
    gate.requireOperation(id);
    operationWatches.watch(id, (ServerCallStreamObserver<OperationUpdate>) out);
  }

  /** Stops re-reading watched operations; the server's calls end with it. */
  public void close() {
    operationWatches.close();
  }

  @Override
  public void renewLease(RenewLeaseRequest req, StreamObserver<Lease> out) {
    java.util.UUID id = Validation.leaseId(req.getLeaseId());
    // 0 passes through: the lease's own TTL.
    int ttl = Validation.leaseTtl("ttl_seconds", req.getTtlSeconds(), 0, Leases.MAX_TTL_SECONDS);
    // 0 passes through: the weight stays.
    int connections = (int) Validation.range("connections", req.getConnections(), 0,
        PolicyValidation.MAX_LEASES_PER_VM);
    if (connections > 0 && !Caller.currentMayActAsGateway()) {
      // The weight scales a capped service out: only the gateways' count is trusted with it.
      throw new FarmException.PermissionDenied("only a gateway (or an admin) may set a lease's"
          + " connections; a client's lease stands for one user");
    }
    gate.requireLease(id);
    out.onNext(ProtoMapping.lease(leases.renew(id, ttl, connections)));
    out.onCompleted();
  }

  @Override
  public void releaseLease(ReleaseLeaseRequest req, StreamObserver<ReleaseLeaseResponse> out) {
    java.util.UUID id = Validation.leaseId(req.getLeaseId());
    gate.requireLease(id);
    leases.release(id);
    out.onNext(ReleaseLeaseResponse.getDefaultInstance());
    out.onCompleted();
  }

  @Override
  public void listServices(ListServicesRequest req, StreamObserver<ListServicesResponse> out) {
    Map<String, OfferedService.Builder> offered = new LinkedHashMap<>();
    ProjectScope scope = Caller.scope();
    for (VmListings.OfferedService o : listings.offeredServices(db, scope.project())) {
      OfferedService.Builder b = offered.computeIfAbsent(o.service(),
          s -> OfferedService.newBuilder().setName(s).setDefinition(o.definition()));
      b.addVmIds(o.vmId().toString());
      switch (o.state()) {
        case ACTIVE -> b.setActiveVms(b.getActiveVms() + 1);
        case SLEEPING -> b.setSleepingVms(b.getSleepingVms() + 1);
        case ARCHIVED -> b.setArchivedVms(b.getArchivedVms() + 1);
        default -> { } // on its way somewhere; counted in vm_ids only
      }
    }
    ListServicesResponse.Builder resp = ListServicesResponse.newBuilder();
    Map<String, Integer> ports = gateways.ports();
    offered.values().forEach(b -> {
      Integer port = ports.get(b.getName());
      if (port != null) {
        b.setGatewayPort(port).setGatewayAddress(gateways.address(port));
      }
      resp.addOffered(b.build());
    });
    // Gateway addresses of the services this caller sees only: another project's names stay unsaid.
    java.util.Set<String> visible = new java.util.HashSet<>(offered.keySet());
    for (ServiceDefinitionRecord d : catalog.definitions()) {
      if (!scope.seesDefinition(d.project(), d.shared())) {
        continue;
      }
      for (ServiceDefinitionRecord.ServicePort p : d.services()) {
        visible.add(p.name());
        if (!offered.containsKey(p.name())) {
          resp.addConstructible(p.name());
        }
      }
    }
    ports.forEach((service, port) -> {
      if (visible.contains(service)) {
        resp.addGateways(ServiceGateway.newBuilder().setService(service).setGatewayPort(port)
            .setGatewayAddress(gateways.address(port)));
      }
    });
    out.onNext(resp.build());
    out.onCompleted();
  }

  @Override
  public void getVm(GetVmRequest req, StreamObserver<Vm> out) {
    java.util.UUID id = Validation.vmId(req.getVmId());
    ProjectScope scope = Caller.scope();
    Vm vm = db.inTransaction(tx -> {
      var record = vms.find(tx, id).filter(v -> scope.sees(v.project()))
          .orElseThrow(() -> new FarmException.NotFound("no VM with id " + id));
      return ProtoMapping.vm(listings.views(tx, java.util.List.of(record)).get(0));
    });
    out.onNext(vm);
    out.onCompleted();
  }
}
