package org.servicefarm.gateway;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One service's VMs as this gateway uses them: a lease on each VM it has connections to (taken
 * by RequestService, renewed while connections are open, released a grace period after the last
 * one closed), least-connections choice among them, and the one RequestService call that every
 * connection arriving while no VM is ready waits on (coalesced: a hundred first connections make
 * one call, and the controller's per-definition lock coalesces the calls of several gateways).
 *
 * <p>A lease stands for this gateway's open connections to its VM: it is renewed with their
 * count, which the farm counts against the definition's max_leases_per_vm. When a connection
 * takes every leased VM past that cap, the count is reported at once and the farm asked for a
 * VM again, which (the VM being full) starts or wakes another; meanwhile connections go to the
 * least loaded VM rather than wait.
 */
final class ServiceBackends {
  private static final Logger log = LoggerFactory.getLogger(ServiceBackends.class);
  /** A VM just granted may not be in the routing table yet: it is trusted this long without. */
  static final Duration TABLE_LAG = Duration.ofSeconds(10);
  /** A scale-out the farm could not grant (max_instances, no capacity) is asked again after this. */
  static final Duration SCALE_OUT_PAUSE = Duration.ofSeconds(5);

  /** A VM to splice to, and the path by which it became ready. */
  record Acquired(LeasedVm vm, WakePath path) {}

  private final String service;
  private final Farm farm;
  private final GatewayMetrics metrics;
  private final Duration releaseGrace;
  private final LongSupplier nanoTime;
  private final List<LeasedVm> vms = new ArrayList<>(); // guarded by this
  private CompletableFuture<Acquired> acquiring; // guarded by this
  private long nextScaleOutNanos; // guarded by this

  ServiceBackends(String service, Farm farm, GatewayMetrics metrics, Duration releaseGrace,
      LongSupplier nanoTime) {
    this.service = service;
    this.farm = farm;
    this.metrics = metrics;
    this.releaseGrace = releaseGrace;
    this.nanoTime = nanoTime;
  }

  /**
   * The leased VM with the fewest connections that the table lists ACTIVE, counted as one more
   * connection; empty when there is none. When every leased VM is busy and the table shows an
   * ACTIVE VM this gateway holds no lease on, a lease on another VM is asked for meanwhile.
   */
  synchronized Optional<LeasedVm> pick(RouteTable.Route route) {
    LeasedVm best = null;
    for (LeasedVm vm : vms) {
      if (usable(vm, route) && (best == null || vm.connections < best.connections)) {
        best = vm;
      }
    }
    if (best == null) {
      return Optional.empty();
    }
    best.connections++;
    if (best.connections > 1 && acquiring == null && route.active().stream()
        .anyMatch(b -> vms.stream().noneMatch(v -> v.vmId.equals(b.vmId())))) {
      acquire(route);
    } else if (route.maxLeasesPerVm() > 0 && best.connections > route.maxLeasesPerVm()
        && acquiring == null && nanoTime.getAsLong() - nextScaleOutNanos >= 0) {
      // The least loaded VM is past the cap, so every one is: the farm, told so, readies another.
      nextScaleOutNanos = nanoTime.getAsLong() + SCALE_OUT_PAUSE.toNanos();
      LeasedVm full = best;
      log.info("{}: {} connections to {}, past max_leases_per_vm {}: asking for another VM",
          service, full.connections, full, route.maxLeasesPerVm());
      full.renewing = true;
      reportThen(full, () -> acquire(route));
    }
    return Optional.of(best);
  }

  /**
   * Renews the VM's lease with its connections now (the farm's weight for it), then runs
   * {@code next} whether or not the renewal took.
   */
  private void reportThen(LeasedVm vm, Runnable next) {
    int connections;
    synchronized (this) {
      connections = Math.max(1, vm.connections);
    }
    farm.renew(vm.leaseId, connections).whenComplete((expires, failure) -> {
      synchronized (this) {
        vm.renewing = false;
        if (failure == null) {
          vm.leaseExpiresAt = expires;
          vm.reportedConnections = connections;
        } else {
          // The farm ended the lease (or forgot it): open connections go on, new ones go to
          // a VM whose lease this gateway holds.
          vm.stale = true;
        }
      }
      if (failure != null) {
        log.warn("{}: renewing the lease on {} failed: {}", service, vm,
            FarmRefusals.of(service, failure).message());
      }
      next.run();
    });
  }

  private boolean usable(LeasedVm vm, RouteTable.Route route) {
    if (route.isActive(vm.vmId)) {
      vm.seenActive = true;
      return !vm.stale;
    }
    // Not (yet) in the table: trusted only while the table may still lag behind the grant.
    return !vm.stale && !vm.seenActive
        && nanoTime.getAsLong() - vm.acquiredNanos < TABLE_LAG.toNanos();
  }

  /**
   * The VM the farm readies for the service: the call in flight if there is one, else a new
   * RequestService. The answer's VM is counted as one more connection for each caller that
   * {@link #attach}es to it.
   */
  synchronized CompletableFuture<Acquired> acquire(RouteTable.Route route) {
    if (acquiring != null && !acquiring.isDone()) {
      return acquiring;
    }
    WakePath expected = route.expectedPath();
    CompletableFuture<Acquired> call = farm.request(service)
        .thenApply(granted -> added(granted, granted.created() ? WakePath.BUILT : expected));
    acquiring = call;
    call.whenComplete((ok, failure) -> {
      synchronized (this) {
        if (acquiring == call) {
          acquiring = null;
        }
      }
      metrics.farmRequest(service, failure == null ? "ok"
          : FarmRefusals.of(service, failure).refusal().label());
    });
    return call;
  }

  private Acquired added(Farm.Granted granted, WakePath path) {
    String duplicateLease = null;
    LeasedVm vm;
    synchronized (this) {
      Optional<LeasedVm> known = vms.stream()
          .filter(v -> v.vmId.equals(granted.vmId()) && !v.stale).findFirst();
      if (known.isPresent()) {
        vm = known.get();
        duplicateLease = granted.leaseId(); // one lease per VM is enough
      } else {
        vm = new LeasedVm(granted, nanoTime.getAsLong());
        vms.add(vm);
        log.info("{}: holding a lease on {} (path {})", service, vm, path.label());
      }
    }
    if (duplicateLease != null) {
      release(duplicateLease);
    }
    return new Acquired(vm, path);
  }

  /** Counts a connection on a VM {@link #acquire} answered. */
  synchronized void attach(LeasedVm vm) {
    vm.connections++;
  }

  /** A connection to the VM closed. */
  synchronized void detach(LeasedVm vm) {
    vm.connections--;
    if (vm.connections == 0) {
      vm.idleSinceNanos = nanoTime.getAsLong();
    }
  }

  /** The VM refused a connection: no new ones go to it, and its lease goes once it is idle. */
  synchronized void unreachable(LeasedVm vm) {
    vm.stale = true;
  }

  /** Whether the gateway holds nothing for the service: no lease, no call in flight. */
  synchronized boolean idle() {
    return vms.isEmpty() && acquiring == null;
  }

  /**
   * Renews leases that are half used, releases those of VMs idle past the grace period (or
   * stale and idle), and stops sending connections to VMs the table no longer lists ACTIVE.
   *
   * @param route the service's route now; empty when the service is no longer defined
   */
  void tick(Optional<RouteTable.Route> route, Instant now) {
    List<LeasedVm> toRelease = new ArrayList<>();
    List<LeasedVm> toRenew = new ArrayList<>();
    long nanos = nanoTime.getAsLong();
    synchronized (this) {
      for (LeasedVm vm : List.copyOf(vms)) {
        if (!vm.stale && (route.isEmpty() || !usable(vm, route.get()))) {
          vm.stale = true;
          log.info("{}: {} is no longer ACTIVE in the routing table; new connections go"
              + " elsewhere", service, vm);
        }
        boolean graceOver = nanos - vm.idleSinceNanos >= releaseGrace.toNanos();
        if (vm.connections == 0 && (vm.stale || graceOver)) {
          vms.remove(vm);
          toRelease.add(vm);
        } else if (!vm.renewing && (now.plus(Duration.ofSeconds(30)).isAfter(vm.leaseExpiresAt)
            || (route.isPresent() && route.get().maxLeasesPerVm() > 0
                && Math.max(1, vm.connections) != vm.reportedConnections))) {
          // Due, or (the service capped) its connections changed since the farm last heard.
          vm.renewing = true;
          toRenew.add(vm);
        }
      }
    }
    for (LeasedVm vm : toRelease) {
      log.info("{}: releasing the lease on {}: no connection for {} s", service, vm,
          releaseGrace.toSeconds());
      release(vm.leaseId);
    }
    for (LeasedVm vm : toRenew) {
      reportThen(vm, () -> { });
    }
  }

  /** Releases every lease: the gateway is stopping. */
  void releaseAll() {
    List<LeasedVm> all;
    synchronized (this) {
      all = List.copyOf(vms);
      vms.clear();
    }
    all.forEach(vm -> release(vm.leaseId));
  }

  private void release(String leaseId) {
    farm.release(leaseId).whenComplete((ok, failure) -> {
      if (failure != null) {
        // The lease expires on its own at the end of its term.
        log.warn("{}: releasing lease {} failed: {}", service, leaseId,
            FarmRefusals.of(service, failure).message());
      }
    });
  }
}
