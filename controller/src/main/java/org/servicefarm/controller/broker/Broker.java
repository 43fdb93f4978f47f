package org.servicefarm.controller.broker;

import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.servicefarm.controller.FarmException;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.CatalogRepository.ServiceRoute;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.OperationRepository;
import org.servicefarm.controller.db.VmQueries;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.hosts.Placer;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.ServiceDefinitionRecord;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.reconcile.Reconciler;
import org.servicefarm.controller.scheduler.PlacementRequest;

/**
 * The request method: a service name in, access to a VM offering it out. See docs/architecture.md.
 *
 * <p>The warm path (an ACTIVE VM offers the service) is one read and no write. Every other path
 * runs under a per-definition advisory lock, so concurrent requests for a service nobody offers
 * find the VM the first of them created and wait for it instead of building their own.
 */
public final class Broker {
  private final Database db;
  private final CatalogRepository catalog;
  private final VmRepository vms;
  private final VmQueries queries;
  private final OperationRepository operations;
  private final Placer placer;
  private final Reconciler reconciler;
  private final VmWaiter waiter;
  private final Placer.ImageDigests imageDigest;

  public Broker(Database db, CatalogRepository catalog, VmRepository vms, VmQueries queries,
      OperationRepository operations, Placer placer, Reconciler reconciler, VmWaiter waiter,
      Placer.ImageDigests imageDigest) {
    this.imageDigest = imageDigest;
    this.db = db;
    this.catalog = catalog;
    this.vms = vms;
    this.queries = queries;
    this.operations = operations;
    this.placer = placer;
    this.reconciler = reconciler;
    this.waiter = waiter;
  }

  /** Where the client reaches the service, and how it came to be. */
  public record Granted(UUID vmId, String service, String host, int port, VmState state, boolean created) {}

  public Granted request(String service, String idempotencyKey, Duration wait) {
    if (idempotencyKey != null) {
      Optional<OperationRepository.KeyedRequest> earlier =
          db.inTransaction(tx -> operations.findByKey(tx, idempotencyKey));
      if (earlier.isPresent()) {
        return repeat(earlier.get(), service, idempotencyKey, wait);
      }
    }
    ServiceRoute route =
        db.inTransaction(tx -> catalog.route(tx, service))
            .orElseThrow(() -> new FarmException.ServiceNotFound(service));

    Optional<VmQueries.Offer> warm = leastLoaded(db.inTransaction(tx -> queries.activeOffers(tx, service)));
    if (warm.isPresent() && idempotencyKey == null) {
      VmQueries.Offer o = warm.get();
      return new Granted(o.vmId(), service, o.hostAddress(), o.hostPort(), VmState.ACTIVE, false);
    }

    Decision decision;
    try {
      decision = decide(route, idempotencyKey, service);
    } catch (KeyRaced raced) {
      return repeat(raced.winner, service, idempotencyKey, wait);
    }
    reconciler.kick(decision.vm().id());
    try {
      Granted granted = waiter.awaitActive(decision.vm().id(), service, decision.created(), wait);
      if (idempotencyKey != null) {
        operations.finish(db, idempotencyKey, null);
      }
      return granted;
    } catch (FarmException e) {
      if (idempotencyKey != null) {
        operations.finish(db, idempotencyKey, e.getMessage());
      }
      throw e;
    }
  }

  /** What the locked part of a request decided: the VM to answer with, and whether it is new. */
  private record Decision(VmRecord vm, boolean created) {}

  private Decision decide(ServiceRoute route, String idempotencyKey, String service) {
    return db.inTransaction(tx -> {
      tx.advisoryLock("definition:" + route.definition());
      Decision d = decide(tx, route);
      if (idempotencyKey != null) {
        Optional<OperationRepository.KeyedRequest> raced =
            operations.recordRequest(tx, idempotencyKey, service, d.vm().id(), d.created());
        if (raced.isPresent()) {
          throw new KeyRaced(raced.get());
        }
      }
      return d;
    });
  }

  private Decision decide(Database.Tx tx, ServiceRoute route) throws java.sql.SQLException {
    List<VmRecord> existing = vms.ofDefinition(tx, route.definition());
    // Preference: running, then on its way to running, then asleep (fast wake), then archived.
    for (VmState wanted : List.of(VmState.ACTIVE, VmState.STARTING, VmState.PROVISIONING,
        VmState.RESTORING, VmState.SLEEPING, VmState.ARCHIVING, VmState.ARCHIVED)) {
      for (VmRecord vm : existing) {
        // A VM on its way to deletion is not handed out again.
        if (vm.state() == wanted && vm.desiredState() != DesiredState.DELETED) {
          return new Decision(
              vms.setDesired(tx, vm, DesiredState.ACTIVE, "requested: " + route.service()), false);
        }
      }
    }
    for (VmRecord vm : existing) {
      if (vm.state() == VmState.UNKNOWN) {
        throw new FarmException.Unavailable("the VM offering '" + route.service() + "' (" + vm.id()
            + ") is on host " + vm.hostId() + ", which is not reporting; try again when it returns");
      }
    }
    ServiceDefinitionRecord def = catalog.find(tx, route.definition())
        .orElseThrow(() -> new FarmException.ServiceNotFound(route.service()));
    VmRecord created = placer.place(tx,
        new PlacementRequest(def.vcpus(), def.memoryMb(), imageDigest.apply(tx, def.imageId())),
        (t, hostId) -> vms.insertProvisioning(t, def.name(), def.imageId(), hostId, def.vcpus(),
            def.memoryMb(), "requested: " + route.service() + "; placed on host " + hostId));
    return new Decision(created, true);
  }

  private Granted repeat(OperationRepository.KeyedRequest earlier, String service, String key,
      Duration wait) {
    if (!earlier.service().equals(service)) {
      throw new FarmException.Conflict("idempotency key '" + key + "' was used for service '"
          + earlier.service() + "', not '" + service + "'");
    }
    VmRecord vm = db.inTransaction(tx -> vms.find(tx, earlier.vmId())).orElseThrow();
    if (!vm.state().isFinal() && vm.desiredState() != DesiredState.ACTIVE
        && vm.desiredState() != DesiredState.DELETED) {
      db.inTransaction(tx -> vms.setDesired(tx, vm, DesiredState.ACTIVE, "requested again: " + service));
    }
    reconciler.kick(vm.id());
    return waiter.awaitActive(vm.id(), service, earlier.created(), wait);
  }

  private static Optional<VmQueries.Offer> leastLoaded(List<VmQueries.Offer> offers) {
    return offers.stream()
        .min(Comparator.comparingDouble(Broker::load).thenComparing(o -> o.vmId().toString()));
  }

  private static double load(VmQueries.Offer o) {
    return o.hostCpuPercent() / 100.0 + o.hostAllocatedMemoryMb() / 1_000_000.0;
  }

  /** A concurrent request with the same key committed first; its answer is ours. */
  static final class KeyRaced extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final transient OperationRepository.KeyedRequest winner;

    KeyRaced(OperationRepository.KeyedRequest winner) {
      super("idempotency key taken concurrently", null, false, false);
      this.winner = winner;
    }
  }
}
