package org.servicefarm.controller.api;

import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.servicefarm.api.v1.Access;
import org.servicefarm.api.v1.GetVmRequest;
import org.servicefarm.api.v1.ListServicesRequest;
import org.servicefarm.api.v1.ListServicesResponse;
import org.servicefarm.api.v1.OfferedService;
import org.servicefarm.api.v1.RequestServiceRequest;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.ServiceBrokerGrpc;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.controller.FarmException;
import org.servicefarm.controller.broker.Broker;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.VmQueries;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.images.ImageCatalog;
import org.servicefarm.controller.model.ServiceDefinitionRecord;

/** The clients' API: validates, calls the broker, maps the answer. */
public final class ServiceBrokerService extends ServiceBrokerGrpc.ServiceBrokerImplBase {
  private final Broker broker;
  private final Database db;
  private final VmRepository vms;
  private final VmQueries queries;
  private final ImageCatalog catalog;
  private final Duration requestWait;

  public ServiceBrokerService(Broker broker, Database db, VmRepository vms, VmQueries queries,
      ImageCatalog catalog, Duration requestWait) {
    this.broker = broker;
    this.db = db;
    this.vms = vms;
    this.queries = queries;
    this.catalog = catalog;
    this.requestWait = requestWait;
  }

  @Override
  public void requestService(RequestServiceRequest req, StreamObserver<RequestServiceResponse> out) {
    String service = Validation.serviceName("service", req.getService());
    String key = Validation.idempotencyKey(req.getIdempotencyKey());
    Broker.Granted g = broker.request(service, key, CallDeadlines.waitFor(requestWait));
    out.onNext(RequestServiceResponse.newBuilder()
        .setVmId(g.vmId().toString())
        .setAccess(Access.newBuilder().setService(g.service()).setHost(g.host()).setPort(g.port()))
        .setState(ProtoMapping.state(g.state()))
        .setCreated(g.created())
        .build());
    out.onCompleted();
  }

  @Override
  public void listServices(ListServicesRequest req, StreamObserver<ListServicesResponse> out) {
    Map<String, OfferedService.Builder> offered = new LinkedHashMap<>();
    for (VmQueries.OfferedService o : queries.offeredServices(db)) {
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
    offered.values().forEach(b -> resp.addOffered(b.build()));
    for (ServiceDefinitionRecord d : catalog.definitions()) {
      for (ServiceDefinitionRecord.ServicePort p : d.services()) {
        if (!offered.containsKey(p.name())) {
          resp.addConstructible(p.name());
        }
      }
    }
    out.onNext(resp.build());
    out.onCompleted();
  }

  @Override
  public void getVm(GetVmRequest req, StreamObserver<Vm> out) {
    java.util.UUID id = Validation.vmId(req.getVmId());
    Vm vm = db.inTransaction(tx -> {
      var record = vms.find(tx, id).orElseThrow(() -> new FarmException.NotFound("no VM with id " + id));
      return ProtoMapping.vm(queries.views(tx, java.util.List.of(record)).get(0));
    });
    out.onNext(vm);
    out.onCompleted();
  }
}
