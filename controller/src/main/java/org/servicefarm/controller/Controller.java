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
import org.servicefarm.controller.api.AgentControlService;
import org.servicefarm.controller.routes.GatewayAddresses;
import org.servicefarm.controller.api.MalformedRequests;
import org.servicefarm.controller.api.StatusMapper;
import org.servicefarm.controller.audit.AuditInterceptor;
import org.servicefarm.controller.audit.AuditTrail;
import org.servicefarm.controller.auth.AgentIdentity;
import org.servicefarm.controller.auth.ProjectScopeInterceptor;
import org.servicefarm.controller.auth.AuthSettings;
import org.servicefarm.controller.auth.TokenRegistry;
import org.servicefarm.controller.broker.VmWaiter;
import org.servicefarm.controller.dashboard.Dashboard;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.HistoryRepository;
import org.servicefarm.controller.ha.LeaderDuties;
import org.servicefarm.controller.ha.LeaderElection;
import org.servicefarm.controller.ha.LeaderRouting;
import org.servicefarm.controller.ha.Leadership;
import org.servicefarm.controller.health.ServingHealth;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.hosts.HostDrainer;
import org.servicefarm.controller.images.BlobStorage;
import org.servicefarm.controller.images.BlobStore;
import org.servicefarm.controller.images.ImageCatalog;
import org.servicefarm.controller.lifecycle.HistoryPruner;
import org.servicefarm.controller.metrics.ControllerMetrics;
import org.servicefarm.controller.reconcile.Failpoints;
import org.servicefarm.controller.reconcile.Reconciler;
import org.servicefarm.controller.web.WebServer;

/**
 * The controller's parts wired together on a migrated database, served on a gRPC server built
 * from the caller's {@link ServerBuilder} (a Netty port in production, in-process in tests).
 */
public final class Controller implements AutoCloseable {
  private final LeaderElection election;
  private final LeaderDuties duties;
  private final Function<String, io.grpc.Channel> peers;
  private final HealthStatusManager health = new HealthStatusManager();
  private final ControllerMetrics metrics = new ControllerMetrics();
  private final AgentRegistry agents;
  private final LifecyclePart lifecycle;
  private final ApiPart api;
  private final ServingHealth servingHealth;
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
    PersistencePart persistence = new PersistencePart(db, election);
    this.agents = new AgentRegistry();
    PlacementPart placement = new PlacementPart(persistence, agents, config.cpuOvercommit());
    this.lifecycle = new LifecyclePart(persistence, placement, agents, config, dataDir, blobs,
        metrics);
    this.api = new ApiPart(persistence, placement, lifecycle, agents, config, blobs, completions);
    api.eventFeed.start();
    api.routeWatches.start();
    this.duties = leaderDuties(db, config, persistence.images);
    election.start(duties);
    this.servingHealth = new ServingHealth(health, db.dataSource(), election,
        agents::connectedCount);
    metrics.watchProjects(db);
    metrics.watchBlobStore(api.collector::lastBytesByKind);
    metrics.watch(db, election, agents::connectedCount, () -> servingHealth.report()
        .map(ServingHealth.Report::serving).orElse(false));
  }

  /** What runs only while this controller leads: on election, on a timer, and on demotion. */
  private LeaderDuties leaderDuties(Database db, ControllerConfig config,
      org.servicefarm.controller.db.ImageRepository images) {
    Reconciler reconciler = lifecycle.reconciler;
    return new LeaderDuties().timedBy(metrics::dutyRan)
        .whenElected(lifecycle.hostTracker::startWatching)
        // Images from before manifests existed, and manifests an earlier key signed.
        .whenElected(() -> lifecycle.manifests.signUnsignedImages(images))
        .whenElected(lifecycle.manifests::resignWithCurrentKey)
        .whenElected(reconciler::sweep)
        // Requests a controller that stopped leading left RUNNING are finished by the new leader.
        .whenElected(api.resumer::resume)
        .every("reconcile sweep", Duration.ofMillis(config.reconcileSweepMillis()),
            reconciler::sweep)
        .every("host loads and liveness", Duration.ofSeconds(1), lifecycle.hostTracker::tick)
        .every("drain pass", Duration.ofMillis(HostDrainer.PASS_MILLIS), lifecycle.drainer::pass)
        .every("idle ladder", config.idleLadderTick(), lifecycle.idleLadder::tick)
        .every("audit retention", Duration.ofHours(1), api.auditTrail::prune)
        .whenElected(() -> api.collector.collect(true)) // the store's figures for the metrics
        .every("blob collection", Duration.ofHours(1), () -> api.collector.collect(false))
        .every("history retention", Duration.ofHours(1), new HistoryPruner(db,
            new HistoryRepository(), config.history(), java.time.Clock.systemUTC())::prune)
        .whenDemoted(why -> agents.disconnectAll("this controller stopped leading: " + why));
  }

  /** Whether this controller leads the farm, and which one does. */
  /** Each service's gateway address; ControllerMain sets the host from --gateway-host. */
  public GatewayAddresses gatewayAddresses() {
    return api.gatewayAddresses;
  }

  /** The sizes of the batches warm requests, renewals and releases were committed in. */
  public org.servicefarm.controller.db.BatchSizes leaseBatches() {
    return api.warmCommits.sizes();
  }

  public Leadership leadership() {
    return election;
  }

  /** The bearer tokens, for the bootstrap admin token and for tests that issue their own. */
  public TokenRegistry tokens() {
    return api.tokens;
  }

  /** The audit trail, for tests that write a window's summaries without waiting for it to end. */
  public AuditTrail auditTrail() {
    return api.auditTrail;
  }

  /** The catalog, for seeding definitions at start (e.g. the development farm's static-web). */
  public ImageCatalog catalog() {
    return api.catalog;
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
    builder.callExecutor(new org.servicefarm.controller.api.AgentStreamCalls());
    builder.intercept(agentIdentity);
    // Added last, so it runs first: it sees every call's final status, refusals included.
    builder.intercept(metrics.grpcInterceptor());
    StatusMapper mapper = new StatusMapper();
    ProjectScopeInterceptor projectScope =
        new ProjectScopeInterceptor(api.projects::exists, StatusMapper::toStatus);
    List<ServerInterceptor> authorization = auth.interceptors(api.tokens.verifier(), StatusMapper::toStatus);
    // The audit interceptor runs before authorization (the last in the list runs first), so it
    // sees refusals; the marker inside routing tells it the call was served here, not forwarded.
    List<ServerInterceptor> audited = new java.util.ArrayList<>(authorization);
    audited.add(new AuditInterceptor(api.auditTrail));
    api.auditTrail.start();
    // Agents stream only to the leader; clients' calls to a follower are forwarded to it.
    LeaderRouting forwarding = LeaderRouting.forwarding(election, peers);
    LeaderRouting leaderOnly = LeaderRouting.leaderOnly(election);
    List<io.grpc.ServerServiceDefinition> forDashboard = new java.util.ArrayList<>();
    for (BindableService s : api.services) {
      LeaderRouting routing = s instanceof AgentControlService ? leaderOnly : forwarding;
      // Outermost: a request that does not parse is refused as INVALID_ARGUMENT, not UNKNOWN.
      // The project scope is settled where the call is served (after forwarding, if any).
      io.grpc.ServerServiceDefinition served = MalformedRequests.refusedAsInvalid(
          ServerInterceptors.intercept(ServerInterceptors.intercept(ServerInterceptors.intercept(
              s, mapper, api.readyTimes, AuditInterceptor.servedHereMarker(), projectScope),
              routing), audited));
      builder.addService(served);
      if (!(s instanceof AgentControlService)) {
        forDashboard.add(served);
      }
    }
    builder.addService(ServerInterceptors.intercept(health.getHealthService(), authorization));
    builder.addService(
        ServerInterceptors.intercept(ProtoReflectionServiceV1.newInstance(), authorization));
    builder.addService(ServerInterceptors.intercept(legacyReflection(), authorization));
    server = builder.build().start();
    api.dashboardCalls.serve(forDashboard, serverThreads, metrics.grpcInterceptor());
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
    new Dashboard(api.dashboardSummary, api.eventFeed, api.dashboardCalls, api.dashboardDetails,
        api.dashboardHistory).mount(web);
    api.dashboardHistory.start();
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
    api.dashboardCalls.close();
    api.dashboardHistory.close();
    election.close();
    duties.close();
    api.close();
    lifecycle.close();
    serverThreads.shutdown();
    completions.shutdown();
  }
}
