package org.servicefarm.controller.broker;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.servicefarm.api.v1.ControllerMessage;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.GroupCommit;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.db.ImageRepository;
import org.servicefarm.controller.db.LeaseRepository;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.OperationRepository;
import org.servicefarm.controller.db.RequestRoutes;
import org.servicefarm.controller.db.VmListings;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.db.embedded.EmbeddedPostgresForTests;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.hosts.AgentSession;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.HostRecord.HostLoad;
import org.servicefarm.controller.model.InstancePolicy;
import org.servicefarm.controller.model.LeaseRecord;
import org.servicefarm.controller.model.RequestKey;
import org.servicefarm.controller.model.ServiceDefinitionRecord.ServicePort;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmServiceRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.operations.OperationTracker;
import org.servicefarm.controller.placement.ImageDigests;
import org.servicefarm.controller.placement.PlacementScheduler;
import org.servicefarm.controller.placement.Placer;
import org.servicefarm.controller.placement.VmProvisioner;
import org.servicefarm.controller.reconcile.VmStateWatcher;

/**
 * What the request method's unit tests run against: the controller's real repositories on a
 * fresh embedded PostgreSQL (migrated once per test class), one host with room whose agent is
 * connected, one image, and the real placement. Each test defines a service of its own (a
 * definition offering one service of the same name) and inserts the VMs and leases it needs, so
 * tests share the database without seeing each other's rows.
 */
final class RequestFarm implements AutoCloseable {
  /** The host every VM is placed on, and the address its services are reached at. */
  static final String HOST = "h1";
  static final String HOST_ADDRESS = "192.0.2.1";
  /** A host whose agent is gone, with VMs a test marks UNKNOWN (not reporting). */
  static final String SILENT_HOST = "h-silent";
  static final int GUEST_PORT = 8080;
  static final Duration WAIT = Duration.ofSeconds(5);

  final Database db;
  final EventRepository events = new EventRepository();
  final VmRepository vms = new VmRepository(events);
  final CatalogRepository catalog = new CatalogRepository();
  final LeaseRepository leaseRows = new LeaseRepository();
  final OperationRepository operations = new OperationRepository();
  final RequestRoutes routes = new RequestRoutes();
  final VmStateWatcher watcher = new VmStateWatcher();
  final VmProvisioner provisioner;
  final OperationTracker tracker;
  /** Group-committed decisions (the shared-lock path) count one batch each. */
  final AtomicInteger sharedBatches = new AtomicInteger();
  final GroupCommit warmCommits;
  final Leases leases;
  final VmWaiter waiter;
  private final UUID imageId;
  private final AtomicInteger names = new AtomicInteger();
  private final AtomicInteger hostPorts = new AtomicInteger(40_000);

  RequestFarm() {
    db = new Database(EmbeddedPostgresForTests.freshDatabase(), EmbeddedPostgresForTests.user(),
        "", 4);
    Migrations.migrate(db.dataSource());
    HostRepository hosts = new HostRepository();
    ImageRepository images = new ImageRepository();
    AgentRegistry agents = new AgentRegistry();
    for (String host : List.of(HOST, SILENT_HOST)) {
      db.inTransaction(tx -> hosts.register(tx, host, HOST_ADDRESS, "test", 10_000, 10_000_000,
          100_000_000, HostLoad.NONE));
    }
    // Only HOST's agent is connected, so placement chooses it alone.
    agents.attach(new AgentSession(HOST, HOST_ADDRESS, "test", new Discarded(), HostLoad.NONE,
        Set.of()));
    imageId = db.inTransaction(tx ->
        images.register(tx, "base", "a".repeat(64), 4096, "qcow2", null).id());
    provisioner = new VmProvisioner(vms,
        new Placer(hosts, agents, new PlacementScheduler(1.0)), ImageDigests.of(images));
    tracker = new OperationTracker(db, operations,
        failure -> Status.UNKNOWN.withDescription(failure.getMessage()));
    warmCommits = new GroupCommit(db, "test-lease", 2, 16, Duration.ofMillis(1), boundary -> {
      if (boundary.equals("committed")) {
        sharedBatches.incrementAndGet();
      }
    });
    leases = new Leases(db, leaseRows, vms, routes, warmCommits);
    waiter = new VmWaiter(db, vms, new VmListings(vms, leaseRows), watcher, Runnable::run);
  }

  /** The request method as the controller wires it, with {@code kicks} for the reconciler. */
  Broker broker(StepKicks kicks) {
    return new Broker(db, catalog, vms, routes, operations, provisioner, kicks, waiter, leases,
        tracker, warmCommits);
  }

  RequestDecider decider() {
    return new RequestDecider(db, catalog, vms, routes, operations, provisioner, leases,
        warmCommits);
  }

  /** A new definition of the policy, offering one service of its own name; returns the name. */
  String service(InstancePolicy policy) {
    String name = "svc-" + names.incrementAndGet();
    db.inTransaction(tx -> catalog.define(tx, name, imageId, List.of(), "serve", 1, 256,
        List.of(new ServicePort(name, GUEST_PORT)), policy));
    return name;
  }

  /** An uncapped definition of at most {@code maxInstances} VMs. */
  String service(int maxLeasesPerVm, int maxInstances) {
    return service(new InstancePolicy(0, 0, 0, 0, maxLeasesPerVm, maxInstances));
  }

  /** A VM of the service on {@link #HOST}, in the state given; an ACTIVE one is reachable. */
  VmRecord vm(String service, VmState state, DesiredState desired) {
    return vm(service, HOST, state, desired);
  }

  VmRecord vm(String service, String host, VmState state, DesiredState desired) {
    return db.inTransaction(tx -> {
      VmRecord vm = vms.insertProvisioning(tx, service, imageId, host, 1, 256, "test");
      if (state != VmState.PROVISIONING) {
        // An archived VM is on no host: its disk is in the image store.
        vm = vms.transition(tx, vm.id(), EnumSet.of(VmState.PROVISIONING), state, "test",
            state == VmState.ARCHIVED ? VmRepository.Change.archived("sha256:" + "b".repeat(64))
                : VmRepository.Change.NONE).orElseThrow();
      }
      if (desired != DesiredState.ACTIVE) {
        vm = vms.setDesired(tx, vm, desired, "test");
      }
      if (state == VmState.ACTIVE) {
        vms.setOffers(tx, vm.id(), List.of(offer(vm)));
      }
      return vm;
    });
  }

  /** What an ACTIVE VM of the service offers: its guest port, forwarded from a host port. */
  VmServiceRecord offer(VmRecord vm) {
    return new VmServiceRecord(vm.id(), vm.definition(), GUEST_PORT, hostPorts.incrementAndGet());
  }

  /** Another client's live lease on the VM. */
  LeaseRecord leaseOn(VmRecord vm) {
    return db.inTransaction(tx -> leaseRows.grant(tx, vm.id(), vm.definition(), 60,
        Duration.ofSeconds(60), new RequestKey("someone-else", null)));
  }

  VmRecord find(UUID vmId) {
    return db.inTransaction(tx -> vms.find(tx, vmId)).orElseThrow();
  }

  List<VmRecord> vmsOf(String service) {
    return db.inTransaction(tx -> vms.ofDefinition(tx, service));
  }

  int liveLeases(UUID vmId) {
    return db.inTransaction(tx -> leaseRows.liveCount(tx, vmId));
  }

  LeaseRecord lease(UUID leaseId) {
    return db.inTransaction(tx -> leaseRows.find(tx, leaseId)).orElseThrow();
  }

  Optional<OperationRepository.KeyedRequest> requestWithKey(RequestKey key) {
    return db.inTransaction(tx -> operations.findByKey(tx, key));
  }

  OperationRepository.OperationRow operation(UUID id) {
    return operations.find(db, id).orElseThrow();
  }

  /** A keyed request of a caller of its own, so no other test's key can answer it. */
  RequestKey newKey() {
    return new RequestKey("caller-" + names.incrementAndGet(), "key-" + UUID.randomUUID());
  }

  RequestKey unkeyed() {
    return new RequestKey("caller-" + names.incrementAndGet(), null);
  }

  @Override
  public void close() {
    warmCommits.close();
    db.close();
  }

  /** An agent stream nobody reads: no command reaches it in these tests. */
  private static final class Discarded implements StreamObserver<ControllerMessage> {
    @Override
    public void onNext(ControllerMessage value) {}

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {}
  }
}
