package org.servicefarm.controller;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;
import org.servicefarm.controller.api.AuditLogService;
import org.servicefarm.controller.api.EventAndDrainAdmin;
import org.servicefarm.controller.api.FarmAdminService;
import org.servicefarm.controller.api.MalformedRequests;
import org.servicefarm.controller.api.ServiceBrokerService;
import org.servicefarm.controller.api.StatusMapper;
import org.servicefarm.controller.api.TokenAdminService;
import org.servicefarm.controller.audit.AuditInterceptor;
import org.servicefarm.controller.audit.AuditTrail;
import org.servicefarm.controller.auth.AuthSettings;
import org.servicefarm.controller.auth.TokenRegistry;
import org.servicefarm.controller.auth.TokenVerifier;
import org.servicefarm.controller.broker.Broker;
import org.servicefarm.controller.broker.DefinitionDeletion;
import org.servicefarm.controller.broker.Leases;
import org.servicefarm.controller.broker.VmActions;
import org.servicefarm.controller.broker.VmProvisioner;
import org.servicefarm.controller.broker.VmWaiter;
import org.servicefarm.controller.dashboard.Dashboard;
import org.servicefarm.controller.dashboard.FarmSummary;
import org.servicefarm.controller.db.AuditRepository;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.db.ImageRepository;
import org.servicefarm.controller.db.LeaseRepository;
import org.servicefarm.controller.db.OperationRepository;
import org.servicefarm.controller.db.TokenRepository;
import org.servicefarm.controller.db.VmQueries;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.events.EventFeed;
import org.servicefarm.controller.ha.LeaderDuties;
import org.servicefarm.controller.images.BlobCollector;
import org.servicefarm.controller.db.BlobReferences;
import org.servicefarm.controller.ha.LeaderElection;
import org.servicefarm.controller.ha.LeaderFence;
import org.servicefarm.controller.ha.LeaderRouting;
import org.servicefarm.controller.ha.Leadership;
import org.servicefarm.controller.health.ServingHealth;
import org.servicefarm.controller.hosts.AgentControlService;
import org.servicefarm.controller.hosts.AgentIdentity;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.hosts.DrainReturns;
import org.servicefarm.controller.hosts.HostDrainer;
import org.servicefarm.controller.hosts.HostTracker;
import org.servicefarm.controller.hosts.Placer;
import org.servicefarm.controller.images.BlobStorage;
import org.servicefarm.controller.images.BlobStore;
import org.servicefarm.controller.images.ImageCatalog;
import org.servicefarm.controller.images.ImageConstructor;
import org.servicefarm.controller.images.ImageIntake;
import org.servicefarm.controller.images.ImageStoreService;
import org.servicefarm.controller.lifecycle.IdleLadder;
import org.servicefarm.controller.metrics.ControllerMetrics;
import org.servicefarm.controller.model.ImageRecord;
import org.servicefarm.controller.operations.OperationResumer;
import org.servicefarm.controller.operations.OperationTracker;
import org.servicefarm.controller.reconcile.CommandFactory;
import org.servicefarm.controller.reconcile.InventoryReconciler;
import org.servicefarm.controller.reconcile.OfferRecorder;
import org.servicefarm.controller.reconcile.OrphanPolicy;
import org.servicefarm.controller.reconcile.ReconcileSteps;
import org.servicefarm.controller.reconcile.Reconciler;
import org.servicefarm.controller.reconcile.VmStateWatcher;
import org.servicefarm.controller.scheduler.PlacementScheduler;
import org.servicefarm.controller.web.WebServer;

/**
 * The controller's parts wired together on a migrated database, served on a gRPC server built
 * from the caller's {@link ServerBuilder} (a Netty port in production, in-process in tests).
 */
public final class Controller implements AutoCloseable {
  private final Reconciler reconciler;
  private final LeaderElection election;
  private final LeaderDuties duties;
  private final Function<String, io.grpc.Channel> peers;
  private final EventFeed eventFeed;
  private final ServiceBrokerService brokerService;
  private final HealthStatusManager health = new HealthStatusManager();
  private final List<BindableService> services;
  private final ImageCatalog catalog;
  private final TokenRegistry tokens;
  private final FarmSummary dashboardSummary;
  private final ControllerMetrics metrics = new ControllerMetrics();
  private final ServingHealth servingHealth;
  private final AuditTrail auditTrail;
  private Server server;
  /**
   * The gRPC server's handlers. Bounded: no call waits on a thread (requests and admin actions
   * answer from futures when their VM settles), so as many threads as the database pool has
   * connections keep every connection busy, and a flood of calls queues instead of spawning a
   * thread each.
   */
  private final ExecutorService serverThreads =
      Executors.newFixedThreadPool(SERVER_THREADS, named("grpc-server"));
  /** Where waiting requests and admin actions finish once their VM settles (see VmWaiter). */
  private final ExecutorService completions =
      Executors.newFixedThreadPool(COMPLETION_THREADS, named("request-completion"));
  static final int SERVER_THREADS = 32;
  private static final int COMPLETION_THREADS = 8;

  /**
   * A controller that is alone on its database, or that cannot forward to a leader elsewhere.
   *
   * @param dataDir where the controller keeps its image store and image builds
   */
  public Controller(Database db, ControllerConfig config, java.nio.file.Path dataDir) {
    this(db, config, dataDir, "", address -> {
      throw new IllegalStateException("this controller does not forward calls to a leader");
    });
  }

  /**
   * @param advertise where peers and clients reach this controller (host:port), told to followers
   *     while it leads
   * @param peers opens a channel to the leader at an address, for a follower's forwarded calls
   */
  public Controller(Database db, ControllerConfig config, java.nio.file.Path dataDir,
      String advertise, Function<String, io.grpc.Channel> peers) {
    this(db, config, dataDir, advertise, peers, new BlobStore(dataDir,
        BlobStore.DEFAULT_MAX_BLOB_BYTES, config.images().storeQuotaBytes()));
  }

  /**
   * @param blobs where images and archives live: {@code <dataDir>/blobs}, or an object store
   *     that every controller of the farm shares
   */
  public Controller(Database db, ControllerConfig config, java.nio.file.Path dataDir,
      String advertise, Function<String, io.grpc.Channel> peers, BlobStorage blobs) {
    Failpoints.announce();
    this.peers = peers;
    this.election = new LeaderElection(db, advertise);
    // What only the leader may change goes through the fence (see ha.LeaderFence).
    Database leaderDb = db.fenced(new LeaderFence(election));
    EventRepository events = new EventRepository();
    VmRepository vms = new VmRepository(events);
    CatalogRepository catalogRepo = new CatalogRepository();
    ImageRepository images = new ImageRepository();
    HostRepository hosts = new HostRepository();
    LeaseRepository leaseRepo = new LeaseRepository();
    VmQueries queries = new VmQueries(vms, leaseRepo);
    AgentRegistry agents = new AgentRegistry();
    VmStateWatcher watcher = new VmStateWatcher();
    Placer placer = new Placer(hosts, agents, new PlacementScheduler(config.cpuOvercommit()));
    OfferRecorder offers = new OfferRecorder(catalogRepo, vms);
    Placer.ImageDigests digests = new Placer.ImageDigests() {
      @Override
      public String apply(Database.Tx tx, java.util.UUID imageId) throws java.sql.SQLException {
        return images.find(tx, imageId).map(ImageRecord::sha256).orElse(null);
      }

      @Override
      public long sizeBytes(Database.Tx tx, java.util.UUID imageId)
          throws java.sql.SQLException {
        return images.find(tx, imageId).map(ImageRecord::sizeBytes).orElse(0L);
      }
    };
    OperationRepository operationRepo = new OperationRepository();
    OperationTracker operationTracker =
        new OperationTracker(db, operationRepo, StatusMapper::toStatus, metrics::operationFinished);
    ImageConstructor constructor = new ImageConstructor(db, images, blobs,
        config.images().constructorSettings(dataDir), metrics::imageComposed);
    try {
      constructor.removeLeftoverBuilds();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot look for builds a stopped controller left in "
          + dataDir.resolve("build"), e);
    }
    BlobCollector collector = new BlobCollector(db, new BlobReferences(), blobs,
        config.images().blobGrace());
    ReconcileSteps steps = new ReconcileSteps(leaderDb, vms, new CommandFactory(db, catalogRepo, images, events),
        offers, agents, placer, watcher, config.commandTimeout(), config.longCommandTimeout(),
        digests, imageId -> constructor.ensureBuilt(
            db.inTransaction(tx -> images.find(tx, imageId)).orElseThrow()),
        operationTracker, new DrainReturns(vms, events, placer, digests), events);
    this.reconciler = new Reconciler(leaderDb, vms, steps, watcher, config.reconcileThreads());
    HostDrainer drainer = new HostDrainer(leaderDb, hosts, vms, events, reconciler);
    this.eventFeed = new EventFeed(db, events);
    InventoryReconciler inventory = new InventoryReconciler(leaderDb, vms, offers, watcher,
        new OrphanPolicy(config.orphans(), leaderDb, events, agents, config.commandTimeout(),
            java.time.Clock.systemUTC()));
    HostTracker hostTracker = new HostTracker(leaderDb, hosts, vms, events, inventory, agents, reconciler,
        watcher, config.livenessTimeout(), config.loadPersistInterval());
    VmWaiter waiter = new VmWaiter(db, vms, queries, watcher, completions);
    this.catalog = new ImageCatalog(db, images, catalogRepo);
    AuditRepository auditRecords = new AuditRepository();
    this.dashboardSummary = new FarmSummary(db, hosts, agents, queries, catalog, events,
        auditRecords);
    VmProvisioner provisioner = new VmProvisioner(vms, placer, digests);
    Leases leases = new Leases(db, leaseRepo, vms, queries);
    Broker broker = new Broker(db, catalogRepo, vms, queries, operationRepo,
        provisioner, reconciler, waiter, leases, operationTracker);
    // Requests a controller that stopped leading left RUNNING are finished by the new leader.
    OperationResumer resumer = new OperationResumer(db, operationRepo, vms, operationTracker,
        waiter, leases, reconciler, config.requestWait());
    IdleLadder idleLadder = new IdleLadder(leaderDb, catalogRepo, vms, leaseRepo, provisioner, reconciler);
    this.brokerService = new ServiceBrokerService(broker, leases, db, vms, queries, catalog,
        config.requestWait(), operationTracker);
    this.auditTrail = new AuditTrail(db, auditRecords, java.time.Clock.systemUTC(),
        config.auditRetention());
    TokenRepository tokenRepo = new TokenRepository();
    this.tokens = new TokenRegistry(db, tokenRepo,
        new TokenVerifier(db, tokenRepo, java.time.Clock.systemUTC()));
    this.services = List.of(
        brokerService,
        new TokenAdminService(tokens),
        new AuditLogService(db, auditRecords),
        new FarmAdminService(db, catalog,
            new ImageIntake(catalog, blobs, config.images().importDirectory()), queries, hosts, agents,
            new VmActions(db, vms, leaseRepo, reconciler, waiter), config.actionWait(),
            new EventAndDrainAdmin(db, events, catalogRepo, eventFeed, drainer, agents),
            new DefinitionDeletion(db, catalogRepo, vms, reconciler), collector),
        new ImageStoreService(blobs),
        new AgentControlService(agents, hostTracker, config.reportIntervalSeconds()));
    eventFeed.start();
    this.duties = new LeaderDuties()
        .whenElected(hostTracker::startWatching)
        .whenElected(reconciler::sweep)
        .whenElected(resumer::resume)
        .every("reconcile sweep", Duration.ofMillis(config.reconcileSweepMillis()),
            reconciler::sweep)
        .every("host loads and liveness", Duration.ofSeconds(1), hostTracker::tick)
        .every("drain pass", Duration.ofMillis(HostDrainer.PASS_MILLIS), drainer::pass)
        .every("idle ladder", config.idleLadderTick(), idleLadder::tick)
        .every("audit retention", Duration.ofHours(1), auditTrail::prune)
        .whenElected(() -> collector.collect(true)) // the store's figures for the metrics
        .every("blob collection", Duration.ofHours(1), () -> collector.collect(false))
        .whenDemoted(why -> agents.disconnectAll("this controller stopped leading: " + why));
    election.start(duties);
    this.servingHealth = new ServingHealth(health, db.dataSource(), election,
        agents::connectedCount);
    metrics.watchBlobStore(collector::lastBytesByKind);
    metrics.watch(db, election, agents::connectedCount, () -> servingHealth.report()
        .map(ServingHealth.Report::serving).orElse(false));
  }

  /** Whether this controller leads the farm, and which one does. */
  public Leadership leadership() {
    return election;
  }

  /** The bearer tokens, for the bootstrap admin token and for tests that issue their own. */
  public TokenRegistry tokens() {
    return tokens;
  }

  /** The audit trail, for tests that write a window's summaries without waiting for it to end. */
  public AuditTrail auditTrail() {
    return auditTrail;
  }

  /** The catalog, for seeding definitions at start (e.g. the development farm's static-web). */
  public ImageCatalog catalog() {
    return catalog;
  }

  /**
   * Registers every service (with health and reflection) on the builder and starts serving; an
   * agent may register any host id (plaintext: the development farm and tests on loopback).
   */
  public Server serve(ServerBuilder<?> builder) throws IOException {
    return serve(builder, AgentIdentity.trustingRegistration());
  }

  /** As {@link #serve(ServerBuilder)}, holding agents to the host their certificate names. */
  // Tokens are required; agent calls are accepted from any caller, as in plaintext. A server that
  // verifies client certificates passes AuthSettings.tokens(true) to the method below instead.
  public Server serve(ServerBuilder<?> builder, AgentIdentity agentIdentity) throws IOException {
    return serve(builder, agentIdentity, AuthSettings.tokens(false));
  }

  /**
   * As {@link #serve(ServerBuilder, AgentIdentity)}, authenticating calls as {@code auth} says.
   * Authorization runs on every service, before the status mapper (ServerInterceptors runs the
   * last interceptor first) and after agentIdentity has put a certified host into the Context.
   */
  public Server serve(ServerBuilder<?> builder, AgentIdentity agentIdentity, AuthSettings auth)
      throws IOException {
    builder.executor(serverThreads);
    builder.intercept(agentIdentity);
    // Added last, so it runs first: it sees every call's final status, refusals included.
    builder.intercept(metrics.grpcInterceptor());
    StatusMapper mapper = new StatusMapper();
    List<ServerInterceptor> authorization = auth.interceptors(tokens.verifier());
    // The audit interceptor runs before authorization (the last in the list runs first), so it
    // sees refusals; the marker inside routing tells it the call was served here, not forwarded.
    List<ServerInterceptor> audited = new java.util.ArrayList<>(authorization);
    audited.add(new AuditInterceptor(auditTrail));
    auditTrail.start();
    // Agents stream only to the leader; clients' calls to a follower are forwarded to it.
    LeaderRouting forwarding = LeaderRouting.forwarding(election, peers);
    LeaderRouting leaderOnly = LeaderRouting.leaderOnly(election);
    for (BindableService s : services) {
      LeaderRouting routing = s instanceof AgentControlService ? leaderOnly : forwarding;
      // Outermost: a request that does not parse is refused as INVALID_ARGUMENT, not UNKNOWN.
      builder.addService(MalformedRequests.refusedAsInvalid(ServerInterceptors.intercept(
          ServerInterceptors.intercept(ServerInterceptors.intercept(s, mapper,
              AuditInterceptor.servedHereMarker()), routing), audited)));
    }
    builder.addService(ServerInterceptors.intercept(health.getHealthService(), authorization));
    builder.addService(
        ServerInterceptors.intercept(ProtoReflectionServiceV1.newInstance(), authorization));
    builder.addService(ServerInterceptors.intercept(legacyReflection(), authorization));
    server = builder.build().start();
    // Serving statuses follow the database, leadership and agents from here on.
    servingHealth.start();
    return server;
  }

  /**
   * Mounts the controller's HTTP routes on {@code web}: {@code /healthz} (public: 200 while this
   * controller serves, 503 while its database cannot be reached, saying whether it leads and
   * whether requests can be placed), {@code /metrics} (admin: it names services and hosts) and
   * the operator's dashboard at {@code /}.
   */
  public void serveWeb(WebServer web) {
    web.route("/healthz", WebServer.Access.PUBLIC, exchange -> {
      ServingHealth.Report report = servingHealth.report().orElse(null);
      WebServer.sendText(exchange, report != null && report.serving() ? 200 : 503,
          (report == null ? "starting: the gRPC server is not serving yet" : report.describe())
              + "\n");
    });
    web.route("/metrics", WebServer.Access.ADMIN, metrics::handle);
    new Dashboard(dashboardSummary, eventFeed).mount(web);
  }

  private static java.util.concurrent.ThreadFactory named(String prefix) {
    java.util.concurrent.atomic.AtomicInteger count = new java.util.concurrent.atomic.AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + count.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  // grpcurl before 1.9 asks only v1alpha reflection; serve both so any grpcurl works.
  @SuppressWarnings("deprecation")
  private static BindableService legacyReflection() {
    return ProtoReflectionService.newInstance();
  }

  @Override
  public void close() {
    servingHealth.close();
    health.enterTerminalState();
    if (server != null) {
      server.shutdown();
    }
    election.close();
    duties.close();
    eventFeed.close();
    brokerService.close();
    auditTrail.close();
    reconciler.close();
    serverThreads.shutdown();
    completions.shutdown();
  }
}
