package org.servicefarm.controller;

import io.grpc.BindableService;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Executor;
import org.servicefarm.controller.api.AgentControlService;
import org.servicefarm.controller.api.AuditLogService;
import org.servicefarm.controller.api.DrainAdmin;
import org.servicefarm.controller.api.StatusMapper;
import org.servicefarm.controller.api.EventAdmin;
import org.servicefarm.controller.api.FarmAdminService;
import org.servicefarm.controller.api.GatewayRouteService;
import org.servicefarm.controller.api.ImageStoreService;
import org.servicefarm.controller.api.ProjectAdminService;
import org.servicefarm.controller.api.ServiceBrokerService;
import org.servicefarm.controller.api.TokenAdminService;
import org.servicefarm.controller.audit.AuditTrail;
import org.servicefarm.controller.auth.TokenRegistry;
import org.servicefarm.controller.auth.TokenVerifier;
import org.servicefarm.controller.broker.Broker;
import org.servicefarm.controller.broker.DefinitionDeletion;
import org.servicefarm.controller.broker.Leases;
import org.servicefarm.controller.broker.OperationResumer;
import org.servicefarm.controller.broker.VmActions;
import org.servicefarm.controller.broker.VmWaiter;
import org.servicefarm.controller.dashboard.FarmCalls;
import org.servicefarm.controller.dashboard.FarmDetails;
import org.servicefarm.controller.dashboard.FarmHistory;
import org.servicefarm.controller.dashboard.FarmSummary;
import org.servicefarm.controller.dashboard.ReadyTimes;
import org.servicefarm.controller.db.GatewayRouteQueries;
import org.servicefarm.controller.db.GroupCommit;
import org.servicefarm.controller.db.ProjectRepository;
import org.servicefarm.controller.events.EventFeed;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.db.BlobReferences;
import org.servicefarm.controller.images.BlobCollector;
import org.servicefarm.controller.images.BlobStorage;
import org.servicefarm.controller.images.ImageCatalog;
import org.servicefarm.controller.images.ImageIntake;
import org.servicefarm.controller.projects.ProjectRegistry;
import org.servicefarm.controller.projects.ProjectReservations;
import org.servicefarm.controller.reconcile.Failpoints;
import org.servicefarm.controller.routes.GatewayAddresses;
import org.servicefarm.controller.routes.RouteWatches;

/**
 * The controller's part that clients, admins and agents call: the request method (the broker,
 * its leases and waiters) and every gRPC service in front of it, with the catalog, tokens, the
 * audit trail and the event feed they read.
 */
final class ApiPart implements AutoCloseable {
  /**
   * Batches of warm requests, renewals and releases under way at once, each on a connection of
   * its own; a few keep the disk's flushes overlapping without taking the pool from the rest.
   */
  private static final int GROUP_COMMIT_WORKERS = 4;
  /** Callers in one batch at most, and how long a batch that found several waits for more. */
  private static final int GROUP_COMMIT_MAX_BATCH = 64;
  private static final java.time.Duration GROUP_COMMIT_LINGER = java.time.Duration.ofMillis(1);
  final GroupCommit warmCommits;
  final ImageCatalog catalog;
  /** Removes blobs nothing refers to (leader duty, and FarmAdmin CollectBlobs). */
  final BlobCollector collector;
  final TokenRegistry tokens;
  final ProjectRegistry projects;
  final AuditTrail auditTrail;
  final EventFeed eventFeed;
  final FarmSummary dashboardSummary;
  /** The dashboard's actions: these same services, in process (see FarmCalls). */
  final FarmCalls dashboardCalls = new FarmCalls();
  final ReadyTimes readyTimes = new ReadyTimes(Clock.systemUTC());
  final FarmHistory dashboardHistory;
  final FarmDetails dashboardDetails;
  final ServiceBrokerService brokerService;
  /** Each service's stable gateway address, and the routing table gateways watch. */
  final GatewayAddresses gatewayAddresses;
  final RouteWatches routeWatches;
  /** Finishes the requests a controller that stopped leading left RUNNING; run on election. */
  final OperationResumer resumer;
  final List<BindableService> services;

  /** @param completions where waiting requests and admin actions finish once their VM settles */
  ApiPart(PersistencePart p, PlacementPart placement, LifecyclePart lifecycle,
      AgentRegistry agents, ControllerConfig config, BlobStorage blobs, Executor completions) {
    VmWaiter waiter = new VmWaiter(p.db, p.vms, p.listings, lifecycle.watcher, completions);
    // Warm requests, renewals and releases commit in batches (see db.GroupCommit).
    this.warmCommits = new GroupCommit(p.db, "lease", GROUP_COMMIT_WORKERS,
        GROUP_COMMIT_MAX_BATCH, GROUP_COMMIT_LINGER,
        boundary -> Failpoints.hit("lease-batch." + boundary));
    Leases leases = new Leases(p.db, p.leases, p.vms, p.routes, warmCommits);
    Broker broker = new Broker(p.db, p.catalog, p.vms, p.routes, p.operations,
        placement.provisioner, lifecycle.reconciler::kick, waiter, leases,
        lifecycle.operations, warmCommits);
    this.resumer = new OperationResumer(p.db, p.operations, p.vms, lifecycle.operations, waiter,
        leases, lifecycle.reconciler, config.requestWait());
    this.catalog = new ImageCatalog(p.db, p.images, p.catalog);
    this.collector = new BlobCollector(p.db, new BlobReferences(), blobs,
        config.images().blobGrace());
    this.eventFeed = new EventFeed(p.db, p.events, StatusMapper::toStatus);
    GatewayRouteQueries gatewayRoutes = new GatewayRouteQueries();
    this.gatewayAddresses = new GatewayAddresses(p.db, gatewayRoutes, GatewayAddresses.DEFAULT_HOST);
    this.routeWatches = new RouteWatches(p.db, gatewayRoutes, eventFeed,
        StatusMapper::toStatus);
    this.dashboardSummary = new FarmSummary(p.db, p.hosts, agents, p.listings, catalog, p.events,
        p.audit, gatewayAddresses);
    this.dashboardHistory = new FarmHistory(p.db, p.hosts, agents, readyTimes,
        Clock.systemUTC());
    this.dashboardDetails = new FarmDetails(p.db, p.vms, p.listings, p.events, p.leases, p.hosts,
        agents, dashboardHistory);
    this.brokerService = new ServiceBrokerService(broker, leases, p.db, p.vms, p.listings,
        catalog, config.requestWait(), lifecycle.operations, gatewayAddresses);
    this.auditTrail = new AuditTrail(p.db, p.audit, Clock.systemUTC(), config.auditRetention());
    this.tokens = new TokenRegistry(p.db, p.tokens,
        new TokenVerifier(p.db, p.tokens, Clock.systemUTC()));
    this.projects = new ProjectRegistry(p.db, new ProjectRepository());
    this.services = List.of(
        brokerService,
        new ProjectAdminService(projects, new ProjectReservations(p.db)),
        new TokenAdminService(tokens),
        new AuditLogService(p.db, p.audit),
        new FarmAdminService(p.db, catalog,
            new ImageIntake(catalog, blobs, config.images().importDirectory()), p.listings,
            p.hosts, agents,
            new VmActions(p.db, p.vms, p.leases, lifecycle.reconciler, waiter),
            config.actionWait(),
            new EventAdmin(p.db, p.events, p.catalog, eventFeed),
            new DrainAdmin(lifecycle.drainer, agents),
            new DefinitionDeletion(p.db, p.catalog, p.vms, lifecycle.reconciler), collector),
        new ImageStoreService(blobs),
        new GatewayRouteService(routeWatches),
        new AgentControlService(agents, lifecycle.hostTracker, config.reportIntervalSeconds(),
            lifecycle.manifests::trustedKeys));
  }

  @Override
  public void close() {
    routeWatches.close();
    eventFeed.close();
    brokerService.close();
    warmCommits.close();
    auditTrail.close();
  }
}
