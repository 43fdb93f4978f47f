package org.servicefarm.gateway;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Where a client connection goes once its service is known: straight to the least-loaded leased
 * VM of the service when there is one, else held (within the hold limits) while the service's one
 * RequestService call readies a VM, then spliced to it. A held connection gives up after the
 * hold timeout, or as soon as the farm answers why it cannot serve.
 */
final class Router {
  private final RouteTable table;
  private final Farm farm;
  private final GatewaySettings settings;
  private final GatewayMetrics metrics;
  private final HoldLimits limits;
  private final Refusals refusals;
  private final Map<String, ServiceBackends> services = new ConcurrentHashMap<>();

  Router(RouteTable table, Farm farm, GatewaySettings settings, GatewayMetrics metrics,
      HoldLimits limits) {
    this.table = table;
    this.farm = farm;
    this.settings = settings;
    this.metrics = metrics;
    this.limits = limits;
    this.refusals = new Refusals(metrics);
  }

  Refusals refusals() {
    return refusals;
  }

  /**
   * Sends the client (reading nothing: autoRead off) to the service.
   *
   * @param buffered bytes already read from the client (an HTTP request head), sent to the VM
   *     first; owned by this call from here on; null for none
   */
  void route(Channel client, String service, ByteBuf buffered, boolean http,
      long acceptedNanos) {
    route(client, service, buffered, http, acceptedNanos, true);
  }

  private void route(Channel client, String service, ByteBuf buffered, boolean http,
      long acceptedNanos, boolean mayRetry) {
    // A name the table does not know may be a service defined a moment ago (definitions reach
    // the table within seconds): the farm is asked, and says NOT_FOUND when there is none.
    Optional<RouteTable.Route> route = table.service(service)
        .or(() -> Optional.of(new RouteTable.Route(service, 0, java.util.List.of(), 0, 0, 0)));
    ServiceBackends backends = backends(service);
    Optional<LeasedVm> ready = backends.pick(route.get());
    if (ready.isPresent()) {
      splice(client, service, backends, ready.get(), WakePath.ACTIVE, buffered, http,
          acceptedNanos, mayRetry);
      return;
    }
    hold(client, route.get(), backends, buffered, http, acceptedNanos, mayRetry);
  }

  private void hold(Channel client, RouteTable.Route route, ServiceBackends backends,
      ByteBuf buffered, boolean http, long acceptedNanos, boolean mayRetry) {
    String service = route.service();
    String label = labelOf(service);
    if (!limits.tryService(service)) {
      release(buffered);
      refusals.refuse(client, label, new Refusal.Reason(Refusal.SERVICE_HELD_LIMIT,
          "service '" + service + "' already has " + settings.maxHeldPerService()
              + " connections waiting for its VM; try again"), http);
      return;
    }
    if (!limits.tryTotal()) {
      limits.releaseService(service);
      release(buffered);
      refusals.refuse(client, label, new Refusal.Reason(Refusal.TOTAL_HELD_LIMIT,
          "the gateway already holds " + settings.maxHeldTotal() + " connections waiting for"
              + " VMs; service '" + service + "' must wait; try again"), http);
      return;
    }
    metrics.holding(label);
    AtomicBoolean settled = new AtomicBoolean();
    Runnable unhold = () -> {
      limits.releaseService(service);
      limits.releaseTotal();
      metrics.released(label);
    };
    ScheduledFuture<?> timeout = client.eventLoop().schedule(() -> {
      if (settled.compareAndSet(false, true)) {
        unhold.run();
        release(buffered);
        refusals.refuse(client, labelOf(service), new Refusal.Reason(Refusal.HOLD_TIMEOUT,
            "service '" + service + "' did not become ready within "
                + settings.holdTimeout().toSeconds() + " s (path " + route.expectedPath().label()
                + "); try again"), http);
      }
    }, settings.holdTimeout().toMillis(), TimeUnit.MILLISECONDS);
    awaitVm(client, route, backends, settled, () -> {
      timeout.cancel(false);
      unhold.run();
    }, buffered, http, acceptedNanos, mayRetry);
  }

  /**
   * Waits on the service's farm request. The controller answers a request that outlasts its own
   * wait with DEADLINE_EXCEEDED while the farm goes on readying the VM (a first build may take
   * minutes): the connection then asks again, as long as its own hold lasts.
   */
  private void awaitVm(Channel client, RouteTable.Route route, ServiceBackends backends,
      AtomicBoolean settled, Runnable unhold, ByteBuf buffered, boolean http, long acceptedNanos,
      boolean mayRetry) {
    String service = route.service();
    backends.acquire(route).whenComplete((acquired, failure) -> client.eventLoop().execute(() -> {
      if (settled.get()) {
        return; // timed out meanwhile
      }
      if (failure != null && FarmRefusals.of(service, failure).refusal() == Refusal.HOLD_TIMEOUT
          && client.isActive()) {
        awaitVm(client, route, backends, settled, unhold, buffered, http, acceptedNanos,
            mayRetry);
        return;
      }
      if (!settled.compareAndSet(false, true)) {
        return;
      }
      unhold.run();
      if (failure != null) {
        release(buffered);
        refusals.refuse(client, labelOf(service), FarmRefusals.of(service, failure), http);
        return;
      }
      backends.attach(acquired.vm());
      splice(client, service, backends, acquired.vm(), acquired.path(), buffered, http,
          acceptedNanos, mayRetry);
    }));
  }

  /** Metric labels only for names the table knows: a client's invented names add no series. */
  private String labelOf(String service) {
    return table.service(service).isPresent() ? service : GatewayMetrics.NO_SERVICE;
  }

  private void splice(Channel client, String service, ServiceBackends backends, LeasedVm vm,
      WakePath path, ByteBuf buffered, boolean http, long acceptedNanos, boolean mayRetry) {
    new Splice(client, service, backends, vm, path, acceptedNanos,
        settings.holdTimeout().toNanos(), http, metrics, refusals, initial -> {
          if (mayRetry && client.isActive()) {
            // The VM went away between the table and the connect (put to sleep, moved): ask
            // the farm again, once.
            route(client, service, initial, http, acceptedNanos, false);
          } else {
            release(initial);
            refusals.refuse(client, labelOf(service), new Refusal.Reason(Refusal.VM_UNREACHABLE,
                "service '" + service + "': " + vm + " refused the connection"), http);
          }
        }).start(buffered);
  }

  private ServiceBackends backends(String service) {
    return services.computeIfAbsent(service, s -> new ServiceBackends(s, farm, metrics,
        settings.releaseGrace(), System::nanoTime));
  }

  /** Renews, releases and retires leases; run every second. */
  void tick() {
    Instant now = Instant.now();
    services.forEach((name, backends) -> {
      backends.tick(table.service(name), now);
      if (table.service(name).isEmpty() && backends.idle()) {
        services.remove(name, backends);
      }
    });
  }

  void releaseAll() {
    services.values().forEach(ServiceBackends::releaseAll);
  }

  private static void release(ByteBuf buffered) {
    if (buffered != null) {
      buffered.release();
    }
  }
}
