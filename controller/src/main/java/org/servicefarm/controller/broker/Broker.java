package org.servicefarm.controller.broker;

import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.servicefarm.controller.audit.CallAudit;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.GroupCommit;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.OperationRepository.OperationRow;
import org.servicefarm.controller.db.OperationRepository;
import org.servicefarm.controller.db.RequestRoutes;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.LeaseRecord;
import org.servicefarm.controller.model.RequestKey;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.operations.OperationResult;
import org.servicefarm.controller.operations.OperationTracker;
import org.servicefarm.controller.operations.WakeTimelines;
import org.servicefarm.controller.placement.VmProvisioner;
import org.servicefarm.controller.reconcile.Failpoints;

/**
 * The request method: a service name in, access to a VM offering it and a lease on it out. See
 * docs/architecture.md.
 *
 * <p>Every request decides under a per-definition advisory lock, so concurrent requests see each
 * other's leases: they spread over the definition's VMs, never push one past max_leases_per_vm
 * while another has room, never build more than max_instances, and join the VM the first of them
 * created instead of building their own ({@link RequestDecider}). The warm path (a running VM
 * with room) is one transaction of three statements that writes the lease and the request's
 * operation, recorded already READY.
 */
public final class Broker {
  private final Database db;
  private final VmRepository vms;
  private final StepKicks kicks;
  private final VmWaiter waiter;
  private final Leases leases;
  private final OperationTracker tracker;
  private final RequestDecider decider;

  public Broker(Database db, CatalogRepository catalog, VmRepository vms, RequestRoutes routes,
      OperationRepository operations, VmProvisioner provisioner, StepKicks kicks,
      VmWaiter waiter, Leases leases, OperationTracker tracker, GroupCommit warmCommits) {
    this.tracker = tracker;
    this.db = db;
    this.vms = vms;
    this.kicks = kicks;
    this.waiter = waiter;
    this.leases = leases;
    this.decider = new RequestDecider(db, catalog, vms, routes, operations, provisioner, leases,
        warmCommits);
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

  /** A request whose lease lasts the default TTL; see {@link #request(String, RequestKey, int, Duration)}. */
  public CompletableFuture<Granted> request(String service, RequestKey idempotencyKey,
      Duration wait) {
    return request(service, idempotencyKey, Leases.DEFAULT_TTL_SECONDS, wait);
  }

  /**
   * Decides at once (in the caller's thread: unknown services, bad input and placement failures
   * are thrown here) and answers when the VM is ACTIVE, without holding a thread meanwhile.
   *
   * @param leaseTtlSeconds what the granted lease lasts, and each renewal extends it by
   */
  public CompletableFuture<Granted> request(String service, RequestKey idempotencyKey,
      int leaseTtlSeconds, Duration wait) {
    // A keyed request is recorded as an operation, which a no_wait repeat of it can follow.
    UUID operationId = idempotencyKey.keyed() ? UUID.randomUUID() : null;
    long requestedMicros = WakeTimelines.nowMicros();
    RequestDecider.Outcome outcome =
        decider.decide(service, idempotencyKey, leaseTtlSeconds, wait, operationId);
    if (outcome instanceof RequestDecider.Outcome.Repeat repeat) {
      return repeat(repeat.earlier(), service, idempotencyKey, leaseTtlSeconds, wait);
    }
    RequestDecider.Decision decision = decided(outcome);
    if (decision.answer() != null) {
      // Its operation, if any, was recorded READY by the deciding transaction.
      return CompletableFuture.completedFuture(decision.answer());
    }
    // A wake's hops are timed from here to the answer; see WakeTimelines.
    WakeTimelines.Timeline wake = decision.vm().state() == VmState.SLEEPING
        ? tracker.wakes().begin(decision.vm().id(), requestedMicros) : null;
    if (wake != null) {
      tracker.wakes().mark(decision.vm().id(), WakeTimelines.Hop.DECIDED);
    }
    // Pushed, not polled: the kick runs the VM's step now, and the step's commit wakes the
    // waiter below (VmStateWatcher); the reconcile sweep is only the safety net.
    kicks.kick(decision.vm().id());
    CompletableFuture<Granted> answer =
        answerWhenActive(decision, service, idempotencyKey, operationId, wait);
    if (wake != null) {
      answer.whenComplete((granted, failure) -> tracker.wakes().end(wake, failure == null));
    }
    return answer;
  }

  /**
   * The decided request's answer once its VM is ACTIVE: the access read, the held lease's term
   * started and the operation (if any) recorded done, in one transaction. On failure the held
   * lease is released and the operation recorded failed.
   */
  private CompletableFuture<Granted> answerWhenActive(RequestDecider.Decision decision,
      String service, RequestKey idempotencyKey, UUID operationId, Duration wait) {
    return waiter.whenSettled(decision.vm().id(), wait)
        .thenApply(vm -> {
          tracker.wakes().mark(vm.id(), WakeTimelines.Hop.RECORDED_ACTIVE);
          Failpoints.hit("provision.answering");
          record Answered(Granted granted, Optional<OperationRow> operation) {}
          Answered answered = db.inTransaction(tx -> {
            Granted granted = waiter.access(tx, vm, service, decision.created());
            granted = granted.withLease(leases.startTerm(tx, decision.lease(), idempotencyKey));
            return new Answered(granted, operationId == null ? Optional.empty()
                : tracker.succeeded(tx, operationId, result(granted)));
          });
          answered.operation().ifPresent(tracker::published);
          tracker.wakes().mark(vm.id(), WakeTimelines.Hop.ANSWERED);
          return answered.granted();
        })
        .whenComplete((granted, failure) -> {
          if (failure == null) {
            return;
          }
          Throwable cause = unwrap(failure);
          try {
            leases.cancel(decision.lease());
          } catch (DatabaseException cancelFailure) {
            // The caller needs why the request failed; the held lease expires on its own.
            cause.addSuppressed(cancelFailure);
          }
          if (operationId != null) {
            tracker.failed(operationId, cause);
          }
        });
  }

  /** The exception a future's stage threw, without the CompletionException around it. */
  public static Throwable unwrap(Throwable failure) {
    return failure instanceof CompletionException c && c.getCause() != null
        ? c.getCause() : failure;
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
  public Started requestNoWait(String service, RequestKey idempotencyKey, int leaseTtlSeconds,
      Duration wait) {
    UUID operationId = UUID.randomUUID();
    RequestDecider.Outcome outcome =
        decider.decide(service, idempotencyKey, leaseTtlSeconds, wait, operationId);
    if (outcome instanceof RequestDecider.Outcome.Repeat repeat) {
      return repeatNoWait(repeat.earlier(), service, idempotencyKey, leaseTtlSeconds, wait);
    }
    RequestDecider.Decision decision = decided(outcome);
    VmRecord vm = decision.vm();
    if (decision.answer() != null) {
      return new Started(vm.id(), VmState.ACTIVE, false, operationId);
    }
    kicks.kick(vm.id());
    // Its outcome is recorded on the operation, which the caller follows.
    answerWhenActive(decision, service, idempotencyKey, operationId, wait);
    return new Started(vm.id(), vm.state(), decision.created(), operationId);
  }

  private Started repeatNoWait(OperationRepository.KeyedRequest earlier, String service,
      RequestKey key, int ttlSeconds, Duration wait) {
    VmRecord vm = revive(earlier, service, key);
    // Followed here too, so the operation finishes even if whoever started it is gone; only a
    // running operation is finished, so following it twice changes nothing. Its answer carries
    // the key's lease, as a waiting repeat's does, whichever follower finishes it.
    tracker.follow(earlier.operationId(), waiter.whenActive(vm.id(), service, earlier.created(),
        wait).thenApply(granted -> result(
            granted.withLease(leases.forRepeat(vm.id(), service, ttlSeconds, key)))));
    return new Started(vm.id(), vm.state(), earlier.created(), earlier.operationId());
  }

  private static OperationResult result(Granted g) {
    return new OperationResult(g.vmId(), g.service(), g.host(), g.port(), g.created(),
        g.lease() == null ? null : g.lease().id());
  }

  private CompletableFuture<Granted> repeat(OperationRepository.KeyedRequest earlier,
      String service, RequestKey key, int ttlSeconds, Duration wait) {
    VmRecord vm = revive(earlier, service, key);
    return waiter.whenActive(vm.id(), service, earlier.created(), wait)
        .thenApply(granted -> granted.withLease(leases.forRepeat(vm.id(), service, ttlSeconds, key)));
  }

  /** A decision made here (not a repeat), told to the audit trail. */
  private static RequestDecider.Decision decided(RequestDecider.Outcome outcome) {
    RequestDecider.Decision decision = ((RequestDecider.Outcome.Decided) outcome).decision();
    auditChange(decision);
    Failpoints.hit("provision.decided");
    return decision;
  }

  /** Tells the audit trail when a request created or woke a VM (the warm path changes neither). */
  private static void auditChange(RequestDecider.Decision decision) {
    VmRecord vm = decision.vm();
    CallAudit.tookPath(decision.created() ? "built" : decision.answer() != null ? "warm"
        : vm.state() == VmState.SLEEPING ? "woke"
        : vm.state() == VmState.ARCHIVING || vm.state() == VmState.ARCHIVED ? "restored"
        : "joined");
    if (decision.created()) {
      CallAudit.changed("created VM " + vm.id());
    } else if (decision.answer() == null && (vm.state() == VmState.SLEEPING
        || vm.state() == VmState.ARCHIVING || vm.state() == VmState.ARCHIVED)) {
      CallAudit.changed("woke VM " + vm.id() + " (" + vm.state() + ")");
    }
  }

  /** The VM an earlier request with the key chose, wanted ACTIVE again. */
  private VmRecord revive(OperationRepository.KeyedRequest earlier, String service, RequestKey key) {
    if (!earlier.service().equals(service)) {
      throw new FarmException.Conflict("idempotency key '" + key.idempotencyKey() + "' was used for service '"
          + earlier.service() + "', not '" + service + "'");
    }
    VmRecord vm = db.inTransaction(tx -> vms.find(tx, earlier.vmId())).orElseThrow();
    if (!vm.state().isFinal() && vm.desiredState() != DesiredState.ACTIVE
        && vm.desiredState() != DesiredState.DELETED) {
      db.inTransaction(tx -> vms.setDesired(tx, vm, DesiredState.ACTIVE, "requested again: " + service));
      CallAudit.changed("woke VM " + vm.id() + " (" + vm.state() + ", repeated key)");
    }
    kicks.kick(vm.id());
    return vm;
  }

}
