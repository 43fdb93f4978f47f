package org.servicefarm.controller.broker;

import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.servicefarm.controller.broker.Broker.Granted;
import org.servicefarm.controller.db.CatalogRepository.ServiceRoute;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.GroupCommit;
import org.servicefarm.controller.db.OperationRepository;
import org.servicefarm.controller.db.RequestRoutes;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.LeaseRecord;
import org.servicefarm.controller.model.RequestKey;
import org.servicefarm.controller.model.ServiceDefinitionRecord;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.operations.OperationPhases;
import org.servicefarm.controller.placement.VmProvisioner;

/**
 * The locked part of a request: one transaction that routes it, chooses a VM and records the
 * choice (a lease, a woken or new VM, the request's operation). See docs/architecture.md.
 *
 * <p>The definition's advisory lock is shared when the definition has no max_leases_per_vm and one
 * running VM: requests then have one answer whatever the others do, so they need not wait for each
 * other, only for the idle ladder and for requests that create or wake. Otherwise it is exclusive,
 * so each request sees the leases the one before granted. A request that took it shared but finds
 * it must choose (several VMs) or create or wake decides again under the exclusive lock, having
 * written nothing, and later requests for the service take it exclusive at once until one finds a
 * single running VM again.
 */
final class RequestDecider {
  private final Database db;
  private final CatalogRepository catalog;
  private final VmRepository vms;
  private final RequestRoutes routes;
  private final OperationRepository operations;
  private final VmProvisioner provisioner;
  private final Leases leases;
  /** Where decisions that need only the shared lock are committed together with others'. */
  private final GroupCommit warmCommits;
  /** Services whose last request needed the exclusive lock: the next ones take it at once. */
  private final Set<String> exclusiveServices = ConcurrentHashMap.newKeySet();

  RequestDecider(Database db, CatalogRepository catalog, VmRepository vms, RequestRoutes routes,
      OperationRepository operations, VmProvisioner provisioner, Leases leases,
      GroupCommit warmCommits) {
    this.warmCommits = warmCommits;
    this.db = db;
    this.catalog = catalog;
    this.vms = vms;
    this.routes = routes;
    this.operations = operations;
    this.provisioner = provisioner;
    this.leases = leases;
  }

  /**
   * What the locked part of a request decided: the VM to wait for, whether it is new and the lease
   * held on it; or, on the warm path, the answer itself.
   */
  record Decision(VmRecord vm, boolean created, LeaseRecord lease, Granted answer) {}

  /** How a request's decision ended: decided here, or an earlier request holds its key. */
  sealed interface Outcome {
    record Decided(Decision decision) implements Outcome {}

    /** A request with the same idempotency key came first; its answer is this one's. */
    record Repeat(OperationRepository.KeyedRequest earlier) implements Outcome {}
  }

  /**
   * Decides under the definition's lock. A repeated key is an {@link Outcome.Repeat} with the
   * request that holds it, and nothing of this request is written. A decision under the shared
   * lock is group-committed with other callers' ({@link GroupCommit}).
   *
   * @param operationId the request's operation, recorded with the decision; null for none
   * @throws FarmException.ServiceNotFound when no service of the name is visible
   */
  Outcome decide(String service, RequestKey key, int ttlSeconds, Duration wait,
      UUID operationId) {
    if (!exclusiveServices.contains(service)) {
      Optional<Outcome> shared = warmCommits.run(tx -> decideShared(tx, service, key,
          ttlSeconds, wait, operationId));
      if (shared.isPresent()) {
        return shared.get();
      }
      exclusiveServices.add(service);
    }
    return db.inTransaction(tx -> decideIn(tx,
        routes.routeLocked(tx, service, key, true).orElse(null), service, key, ttlSeconds,
        wait, operationId, true)).orElseThrow();
  }

  /**
   * The decision under the definition's shared lock, in a group-committed batch: it answers from
   * the one running VM of an uncapped definition, or is empty, having written nothing (the
   * contract of a group-committed work), and the request is decided again alone under the
   * exclusive lock. A capped definition's lock is not taken here at all.
   */
  private Optional<Outcome> decideShared(Database.Tx tx, String service, RequestKey key,
      int ttlSeconds, Duration wait, UUID operationId) throws SQLException {
    RequestRoutes.RequestRoute found = routes.routeSharedLocked(tx, service, key).orElse(null);
    if (found != null && found.earlier().isEmpty()
        && found.route().policy().maxLeasesPerVm() > 0) {
      return Optional.empty();
    }
    return decideIn(tx, found, service, key, ttlSeconds, wait, operationId, false);
  }

  /** The outcome, or empty when the decision needs the exclusive lock (nothing was written). */
  private Optional<Outcome> decideIn(Database.Tx tx, RequestRoutes.RequestRoute found,
      String service, RequestKey key, int ttlSeconds, Duration wait, UUID operationId,
      boolean exclusive) throws SQLException {
    if (found == null) {
      // A key used before answers as its first request did (a conflict naming its service).
      Optional<OperationRepository.KeyedRequest> earlier =
          key.keyed() ? operations.findByKey(tx, key) : Optional.empty();
      if (earlier.isPresent()) {
        return Optional.of(new Outcome.Repeat(earlier.get()));
      }
    } else if (found.earlier().isPresent()) {
      return Optional.of(new Outcome.Repeat(found.earlier().get()));
    }
    ServiceRoute route = found == null ? null : found.route();
    boolean exclusiveHeld = exclusive || (route != null && route.policy().maxLeasesPerVm() > 0);
    List<RequestRoutes.Candidate> candidates = route == null ? List.of()
        // A shared definition's VMs are each project's own: a request sees its project's only.
        : routes.candidates(tx, route.definition(), service, route.policy().maxLeasesPerVm(),
            key.scope().projectFor(route.owner()));
    RequestPlan plan = RequestPlan.of(service, route, candidates, exclusiveHeld);
    if (plan instanceof RequestPlan.TakeExclusiveLock) {
      return Optional.empty();
    }
    Outcome outcome = carryOut(tx, plan, route, key, ttlSeconds, wait, operationId);
    if (outcome instanceof Outcome.Decided decided && decided.decision().answer() == null
        && operationId != null) {
      Decision d = decided.decision();
      Optional<OperationRepository.KeyedRequest> raced = operations.recordRequest(tx,
          operationId, key, service, d.vm().id(), d.created(),
          OperationPhases.initial(d.vm().state()),
          OperationPhases.percent(OperationPhases.initial(d.vm().state())));
      if (raced.isPresent()) {
        // A request with the key committed while this one decided: its answer is this one's,
        // and what this one wrote (a VM, a held lease) must not stay.
        tx.undoOnReturn();
        return Optional.of(new Outcome.Repeat(raced.get()));
      }
    }
    return Optional.of(outcome);
  }

  /**
   * Does what the plan says, in the request's transaction: the decision, or a repeat when a
   * request with the same key took the warm answer's lease first (nothing written then).
   */
  private Outcome carryOut(Database.Tx tx, RequestPlan plan, ServiceRoute route, RequestKey key,
      int ttlSeconds, Duration wait, UUID operationId) throws SQLException {
    if (plan instanceof RequestPlan.NotFound notFound) {
      throw new FarmException.ServiceNotFound(notFound.service());
    }
    String service = route.service();
    if (plan instanceof RequestPlan.AnswerNow warm) {
      if (warm.sharedLockSuffices()) {
        exclusiveServices.remove(service);
      }
      RequestRoutes.Candidate chosen = warm.vm();
      VmRecord vm = chosen.vm();
      Optional<LeaseRecord> granted = leases.grantAnswered(tx, vm.id(), service, ttlSeconds, key,
          operationId, chosen.hostAddress(), chosen.hostPort());
      if (granted.isEmpty()) {
        return new Outcome.Repeat(operations.findByKey(tx, key).orElseThrow());
      }
      LeaseRecord lease = granted.get();
      return new Outcome.Decided(new Decision(vm, false, lease, new Granted(vm.id(), service,
          chosen.hostAddress(), chosen.hostPort(), VmState.ACTIVE, false, lease)));
    }
    if (plan instanceof RequestPlan.WaitFor coming) {
      provisioner.admitReturning(tx, coming.vm().vm());
      VmRecord vm = vms.setDesired(tx, coming.vm().vm(), DesiredState.ACTIVE,
          "requested: " + service);
      return new Outcome.Decided(new Decision(vm, false,
          leases.hold(tx, vm.id(), service, ttlSeconds, wait, key), null));
    }
    if (plan instanceof RequestPlan.Build build) {
      ServiceDefinitionRecord def = catalog.find(tx, route.definition())
          .orElseThrow(() -> new FarmException.ServiceNotFound(service));
      long others = build.others();
      VmRecord vm = provisioner.provision(tx, def, key.scope().projectFor(route.owner()),
          "requested: " + service + (others == 0 ? ""
          : "; scaling out to VM " + (others + 1) + " of max_instances "
              + build.maxInstances() + ", the others full or unreachable"));
      return new Outcome.Decided(new Decision(vm, true,
          leases.hold(tx, vm.id(), service, ttlSeconds, wait, key), null));
    }
    RequestPlan.HostDown down = (RequestPlan.HostDown) plan;
    throw new FarmException.Unavailable("the VM offering '" + service + "' ("
        + down.vm().vm().id() + ") is on host " + down.vm().vm().hostId()
        + ", which is not reporting; try again when it returns");
  }
}
