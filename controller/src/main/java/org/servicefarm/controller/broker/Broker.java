package org.servicefarm.controller.broker;

import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.servicefarm.controller.Failpoints;
import org.servicefarm.controller.FarmException;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.CatalogRepository.ServiceRoute;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.OperationRepository;
import org.servicefarm.controller.db.VmQueries;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.LeaseRecord;
import org.servicefarm.controller.model.ServiceDefinitionRecord;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.operations.OperationPhases;
import org.servicefarm.controller.operations.OperationResult;
import org.servicefarm.controller.operations.OperationTracker;
import org.servicefarm.controller.reconcile.Reconciler;

/**
 * The request method: a service name in, access to a VM offering it and a lease on it out. See
 * docs/architecture.md.
 *
 * <p>Every request decides under a per-definition advisory lock, so concurrent requests see each
 * other's leases: they spread over the definition's VMs, never push one past max_leases_per_vm
 * while another has room, never build more than max_instances, and join the VM the first of them
 * created instead of building their own. The warm path (a running VM with room) writes its lease
 * row and nothing else.
 */
public final class Broker {
  private final Database db;
  private final CatalogRepository catalog;
  private final VmRepository vms;
  private final VmQueries queries;
  private final OperationRepository operations;
  private final VmProvisioner provisioner;
  private final Reconciler reconciler;
  private final VmWaiter waiter;
  private final Leases leases;
  private final OperationTracker tracker;

  public Broker(Database db, CatalogRepository catalog, VmRepository vms, VmQueries queries,
      OperationRepository operations, VmProvisioner provisioner, Reconciler reconciler,
      VmWaiter waiter, Leases leases, OperationTracker tracker) {
    this.tracker = tracker;
    this.db = db;
    this.catalog = catalog;
    this.vms = vms;
    this.queries = queries;
    this.operations = operations;
    this.provisioner = provisioner;
    this.reconciler = reconciler;
    this.waiter = waiter;
    this.leases = leases;
  }

  /** Where the client reaches the service, how it came to be, and the lease it holds on the VM. */
  public record Granted(UUID vmId, String service, String host, int port, VmState state,
      boolean created, LeaseRecord lease) {

    /** Access before a lease is attached to it. */
    public Granted(UUID vmId, String service, String host, int port, VmState state, boolean created) {
      this(vmId, service, host, port, state, created, null);
    }

    Granted withLease(LeaseRecord lease) {
      return new Granted(vmId, service, host, port, state, created, lease);
    }
  }

  /** A request whose lease lasts the default TTL. */
  public Granted request(String service, String idempotencyKey, Duration wait) {
    return request(service, idempotencyKey, Leases.DEFAULT_TTL_SECONDS, wait);
  }

  /** @param leaseTtlSeconds what the granted lease lasts, and each renewal extends it by */
  public Granted request(String service, String idempotencyKey, int leaseTtlSeconds,
      Duration wait) {
    if (idempotencyKey != null) {
      Optional<OperationRepository.KeyedRequest> earlier =
          db.inTransaction(tx -> operations.findByKey(tx, idempotencyKey));
      if (earlier.isPresent()) {
        return repeat(earlier.get(), service, idempotencyKey, leaseTtlSeconds, wait);
      }
    }
    // A keyed request is recorded as an operation, which a no_wait repeat of it can follow.
    UUID operationId = idempotencyKey == null ? null : UUID.randomUUID();
    Decision decision;
    try {
      decision = decide(service, idempotencyKey, leaseTtlSeconds, wait, operationId);
    } catch (KeyRaced raced) {
      return repeat(raced.winner, service, idempotencyKey, leaseTtlSeconds, wait);
    }
    Failpoints.hit("provision.decided");
    if (decision.answer() != null) {
      if (operationId != null) {
        tracker.succeeded(operationId, result(decision.answer()));
      }
      return decision.answer();
    }
    reconciler.kick(decision.vm().id());
    try {
      Granted granted = waiter.awaitActive(decision.vm().id(), service, decision.created(), wait);
      Failpoints.hit("provision.answering");
      LeaseRecord lease = leases.startTerm(decision.lease(), idempotencyKey);
      if (operationId != null) {
        tracker.succeeded(operationId, result(granted.withLease(lease)));
      }
      return granted.withLease(lease);
    } catch (FarmException e) {
      try {
        leases.cancel(decision.lease());
      } catch (DatabaseException cancelFailure) {
        // The caller needs why the request failed; the held lease expires on its own.
        e.addSuppressed(cancelFailure);
      }
      if (operationId != null) {
        tracker.failed(operationId, e);
      }
      throw e;
    }
  }

  /** A request answered at once: the VM chosen for it, and the operation that follows it. */
  public record Started(UUID vmId, VmState state, boolean created, UUID operationId) {}

  /**
   * A request sent with no_wait: the same decision as {@link #request} (so unknown services,
   * bad input and placement failures are answered at once), recorded as an operation that moves
   * through its phases as the VM does and ends with the answer {@link #request} would give. The
   * lease starts when the VM is ready.
   *
   * @param wait how long the operation may take before it fails as timed out
   */
  public Started requestNoWait(String service, String idempotencyKey, int leaseTtlSeconds,
      Duration wait) {
    if (idempotencyKey != null) {
      Optional<OperationRepository.KeyedRequest> earlier =
          db.inTransaction(tx -> operations.findByKey(tx, idempotencyKey));
      if (earlier.isPresent()) {
        return repeatNoWait(earlier.get(), service, idempotencyKey, wait);
      }
    }
    UUID operationId = UUID.randomUUID();
    Decision decision;
    try {
      decision = decide(service, idempotencyKey, leaseTtlSeconds, wait, operationId);
    } catch (KeyRaced raced) {
      return repeatNoWait(raced.winner, service, idempotencyKey, wait);
    }
    Failpoints.hit("provision.decided");
    VmRecord vm = decision.vm();
    if (decision.answer() != null) {
      tracker.succeeded(operationId, result(decision.answer()));
      return new Started(vm.id(), VmState.ACTIVE, false, operationId);
    }
    reconciler.kick(vm.id());
    tracker.follow(operationId, waiter.whenActive(vm.id(), service, decision.created(), wait)
        .thenApply(granted -> { Failpoints.hit("provision.answering"); return granted; })
        .thenApply(granted -> result(
            granted.withLease(leases.startTerm(decision.lease(), idempotencyKey))))
        .whenComplete((answered, failure) -> {
          if (failure != null) {
            try {
              leases.cancel(decision.lease());
            } catch (DatabaseException cancelFailure) {
              // The operation records why it failed; the held lease expires on its own.
              failure.addSuppressed(cancelFailure);
            }
          }
        }));
    return new Started(vm.id(), vm.state(), decision.created(), operationId);
  }

  private Started repeatNoWait(OperationRepository.KeyedRequest earlier, String service,
      String key, Duration wait) {
    VmRecord vm = revive(earlier, service, key);
    // Followed here too, so the operation finishes even if whoever started it is gone; only a
    // running operation is finished, so following it twice changes nothing.
    tracker.follow(earlier.operationId(), waiter.whenActive(vm.id(), service, earlier.created(),
        wait).thenApply(Broker::result));
    return new Started(vm.id(), vm.state(), earlier.created(), earlier.operationId());
  }

  private static OperationResult result(Granted g) {
    return new OperationResult(g.vmId(), g.service(), g.host(), g.port(), g.created(),
        g.lease() == null ? null : g.lease().id());
  }

  /**
   * What the locked part of a request decided: the VM to wait for, whether it is new and the lease
   * held on it; or, on the warm path, the answer itself.
   */
  private record Decision(VmRecord vm, boolean created, LeaseRecord lease, Granted answer) {}

  /** @param operationId the request's operation, recorded with the decision; null for none */
  private Decision decide(String service, String idempotencyKey, int ttlSeconds, Duration wait,
      UUID operationId) {
    return db.inTransaction(tx -> {
      ServiceRoute route = catalog.route(tx, service)
          .orElseThrow(() -> new FarmException.ServiceNotFound(service));
      tx.advisoryLock("definition:" + route.definition());
      Decision d = decide(tx, route, idempotencyKey, ttlSeconds, wait);
      if (operationId != null) {
        Optional<OperationRepository.KeyedRequest> raced = operations.recordRequest(tx,
            operationId, idempotencyKey, service, d.vm().id(), d.created(),
            OperationPhases.initial(d.vm().state()),
            OperationPhases.percent(OperationPhases.initial(d.vm().state())));
        if (raced.isPresent()) {
          throw new KeyRaced(raced.get());
        }
      }
      return d;
    });
  }

  private Decision decide(Database.Tx tx, ServiceRoute route, String key, int ttlSeconds,
      Duration wait) throws SQLException {
    String service = route.service();
    List<VmQueries.Candidate> candidates = queries.candidates(tx, route.definition(), service);
    InstanceChoice.Choice choice = InstanceChoice.choose(
        candidates.stream().map(Broker::choosable).toList(), route.policy());
    VmQueries.Candidate chosen = candidates.stream()
        .filter(c -> c.vm().id().equals(choice.vmId())).findFirst().orElse(null);
    switch (choice.action()) {
      case ANSWER -> {
        VmRecord vm = chosen.vm();
        LeaseRecord lease = leases.grant(tx, vm.id(), service, ttlSeconds, key);
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

  private static InstanceChoice.Candidate choosable(VmQueries.Candidate c) {
    return new InstanceChoice.Candidate(c.vm().id(), c.vm().state(), c.vm().desiredState(),
        c.liveLeases(), c.hostCpuPercent() / 100.0 + c.hostAllocatedMemoryMb() / 1_000_000.0,
        c.hostAddress() != null && c.hostPort() != null);
  }

  private Granted repeat(OperationRepository.KeyedRequest earlier, String service, String key,
      int ttlSeconds, Duration wait) {
    VmRecord vm = revive(earlier, service, key);
    Granted granted = waiter.awaitActive(vm.id(), service, earlier.created(), wait);
    return granted.withLease(leases.forRepeat(vm.id(), service, ttlSeconds, key));
  }

  /** The VM an earlier request with the key chose, wanted ACTIVE again. */
  private VmRecord revive(OperationRepository.KeyedRequest earlier, String service, String key) {
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
    return vm;
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
