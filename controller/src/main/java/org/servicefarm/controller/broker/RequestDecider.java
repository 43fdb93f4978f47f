package org.servicefarm.controller.broker;

import org.servicefarm.controller.placement.VmProvisioner;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.broker.Broker.Granted;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.CatalogRepository.ServiceRoute;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.GroupCommit;
import org.servicefarm.controller.db.OperationRepository;
import org.servicefarm.controller.db.RequestRoutes;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.LeaseRecord;
import org.servicefarm.controller.model.RequestKey;
import org.servicefarm.controller.model.ServiceDefinitionRecord;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.operations.OperationPhases;

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

  /**
   * Decides under the definition's lock. A repeated key throws {@link KeyRaced} with the request
   * that holds it, before anything is written.
   *
   * @param operationId the request's operation, recorded with the decision; null for none
   */
  Decision decide(String service, RequestKey key, int ttlSeconds, Duration wait,
      UUID operationId) {
    if (!exclusiveServices.contains(service)) {
      try {
        return warmCommits.run(tx -> decideShared(tx, service, key, ttlSeconds, wait,
            operationId));
      } catch (NeedsExclusiveLock e) {
        exclusiveServices.add(service);
      }
    }
    return decide(service, key, ttlSeconds, wait, operationId, true);
  }

  /**
   * The decision under the definition's shared lock, group-committed with other callers'
   * ({@link GroupCommit}): it answers from the one running VM of an uncapped definition, writing
   * one statement (the lease and the operation), or throws before writing anything (the
   * contract of a group-committed work) and is decided again alone under the exclusive lock.
   */
  private Decision decideShared(Database.Tx tx, String service, RequestKey key, int ttlSeconds,
      Duration wait, UUID operationId) throws SQLException {
    RequestRoutes.RequestRoute found = routes.routeSharedLocked(tx, service, key).orElse(null);
    if (found == null) {
      Optional<OperationRepository.KeyedRequest> earlier =
          key.keyed() ? operations.findByKey(tx, key) : Optional.empty();
      throw earlier.<RuntimeException>map(KeyRaced::new)
          .orElseGet(() -> new FarmException.ServiceNotFound(service));
    }
    if (found.earlier().isPresent()) {
      throw new KeyRaced(found.earlier().get());
    }
    if (found.route().policy().maxLeasesPerVm() > 0) {
      throw new NeedsExclusiveLock();
    }
    // Anything but the warm answer throws NeedsExclusiveLock before it writes.
    return decide(tx, found.route(), key, ttlSeconds, wait, operationId, false);
  }

  private Decision decide(String service, RequestKey key, int ttlSeconds, Duration wait,
      UUID operationId, boolean exclusive) {
    return db.inTransaction(tx -> {
      RequestRoutes.RequestRoute found = routes.routeLocked(tx, service, key, exclusive).orElse(null);
      if (found == null) {
        // A key used before answers as its first request did (a conflict naming its service).
        Optional<OperationRepository.KeyedRequest> earlier =
            key.keyed() ? operations.findByKey(tx, key) : Optional.empty();
        throw earlier.<RuntimeException>map(KeyRaced::new)
            .orElseGet(() -> new FarmException.ServiceNotFound(service));
      }
      if (found.earlier().isPresent()) {
        throw new KeyRaced(found.earlier().get());
      }
      ServiceRoute route = found.route();
      boolean exclusiveHeld = exclusive || route.policy().maxLeasesPerVm() > 0;
      Decision d = decide(tx, route, key, ttlSeconds, wait, operationId, exclusiveHeld);
      if (d.answer() == null && operationId != null) {
        Optional<OperationRepository.KeyedRequest> raced = operations.recordRequest(tx,
            operationId, key, service, d.vm().id(), d.created(),
            OperationPhases.initial(d.vm().state()),
            OperationPhases.percent(OperationPhases.initial(d.vm().state())));
        if (raced.isPresent()) {
          throw new KeyRaced(raced.get());
        }
      }
      return d;
    });
  }

  private Decision decide(Database.Tx tx, ServiceRoute route, RequestKey key, int ttlSeconds,
      Duration wait, UUID operationId, boolean exclusiveHeld) throws SQLException {
    String service = route.service();
    List<RequestRoutes.Candidate> candidates = routes.candidates(tx, route.definition(), service,
        route.policy().maxLeasesPerVm());
    InstanceChoice.Choice choice = InstanceChoice.choose(
        candidates.stream().map(RequestDecider::choosable).toList(), route.policy());
    boolean sharedSuffices = route.policy().maxLeasesPerVm() == 0
        && choice.action() == InstanceChoice.Action.ANSWER
        && candidates.stream().filter(RequestRoutes.Candidate::warm).count() == 1;
    if (!sharedSuffices && !exclusiveHeld) {
      throw new NeedsExclusiveLock();
    }
    if (sharedSuffices) {
      exclusiveServices.remove(service);
    }
    RequestRoutes.Candidate chosen = candidates.stream()
        .filter(c -> c.vm().id().equals(choice.vmId())).findFirst().orElse(null);
    switch (choice.action()) {
      case ANSWER -> {
        VmRecord vm = chosen.vm();
        LeaseRecord lease = leases.grantAnswered(tx, vm.id(), service, ttlSeconds, key,
                operationId, chosen.hostAddress(), chosen.hostPort())
            .orElseThrow(() -> new KeyRaced(findKey(tx, key)));
        return new Decision(vm, false, lease, new Granted(vm.id(), service, chosen.hostAddress(),
            chosen.hostPort(), VmState.ACTIVE, false, lease));
      }
      case JOIN, WAKE -> {
        VmRecord vm = vms.setDesired(tx, chosen.vm(), DesiredState.ACTIVE, "requested: " + service);
        return new Decision(vm, false, leases.hold(tx, vm.id(), service, ttlSeconds, wait, key), null);
      }
      case CREATE -> {
        ServiceDefinitionRecord def = catalog.find(tx, route.definition())
            .orElseThrow(() -> new FarmException.ServiceNotFound(service));
        long others = candidates.stream().filter(c -> !c.vm().state().isFinal()
            && c.vm().desiredState() != DesiredState.DELETED).count();
        VmRecord vm = provisioner.provision(tx, def, "requested: " + service + (others == 0 ? ""
            : "; scaling out to VM " + (others + 1) + " of max_instances "
                + route.policy().maxInstances() + ", the others full or unreachable"));
        return new Decision(vm, true, leases.hold(tx, vm.id(), service, ttlSeconds, wait, key), null);
      }
      case HOST_DOWN -> throw new FarmException.Unavailable("the VM offering '" + service + "' ("
          + chosen.vm().id() + ") is on host " + chosen.vm().hostId()
          + ", which is not reporting; try again when it returns");
      default -> throw new IllegalStateException("unhandled choice " + choice.action());
    }
  }

  private static InstanceChoice.Candidate choosable(RequestRoutes.Candidate c) {
    return new InstanceChoice.Candidate(c.vm().id(), c.vm().state(), c.vm().desiredState(),
        c.liveLeases(), c.hostCpuPercent() / 100.0 + c.hostAllocatedMemoryMb() / 1_000_000.0,
        c.hostAddress() != null && c.hostPort() != null);
  }

  /** The request that holds the key, which a lost insert under it waited for. */
  private OperationRepository.KeyedRequest findKey(Database.Tx tx, RequestKey key) {
    try {
      return operations.findByKey(tx, key).orElseThrow();
    } catch (SQLException e) {
      throw DatabaseException.from(e);
    }
  }

  /**
   * The request took the definition's lock shared, but must create or wake: it decides again
   * under the exclusive lock, having written nothing.
   */
  private static final class NeedsExclusiveLock extends RuntimeException {
    private static final long serialVersionUID = 1L;

    NeedsExclusiveLock() {
      super("the decision needs the definition's exclusive lock", null, false, false);
    }
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
