package org.servicefarm.controller.routes;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.api.v1.RouteBackend;
import org.servicefarm.api.v1.RouteTable;
import org.servicefarm.api.v1.ServiceRoute;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.GatewayRouteQueries;
import org.servicefarm.controller.events.EventFeed;
import org.servicefarm.controller.model.FarmException;

/**
 * The gateways' routing table, pushed to every WatchRoutes stream of this controller. The table
 * is read again soon after any committed event (a VM changed state) and every
 * {@link #FULL_READ_INTERVAL} in any case (a definition was added or removed, which writes no
 * event); a stream gets a table only when it differs from the last one it got. A stream whose
 * client reads slowly is sent only the newest table once it can take one: tables replace each
 * other, so none is queued.
 */
public final class RouteWatches implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(RouteWatches.class.getName());
  static final Duration CHECK_INTERVAL = Duration.ofMillis(100);
  static final Duration FULL_READ_INTERVAL = Duration.ofSeconds(2);

  private final Database db;
  private final GatewayRouteQueries queries;
  private final EventFeed events;
  private final Function<Throwable, Status> statusOf;
  private final Set<Watch> watches = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean eventsSinceRead = new AtomicBoolean(true);
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "gateway-routes");
    t.setDaemon(true);
    return t;
  });
  private volatile RouteTable current;
  private volatile long lastReadNanos;
  private EventFeed.Listening listening;

  /**
   * @param statusOf how a stream's failure reaches the gateway: the API's one mapping of failures
   */
  public RouteWatches(Database db, GatewayRouteQueries queries, EventFeed events,
      Function<Throwable, Status> statusOf) {
    this.statusOf = statusOf;
    this.db = db;
    this.queries = queries;
    this.events = events;
  }

  public void start() {
    listening = events.listen(e -> eventsSinceRead.set(true));
    timer.scheduleWithFixedDelay(this::check, CHECK_INTERVAL.toMillis(),
        CHECK_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Sends the table now and on every change; call from the service method, which returns. */
  public void watch(ServerCallStreamObserver<RouteTable> out) {
    Watch watch = new Watch(out);
    out.setOnCancelHandler(() -> watches.remove(watch));
    out.setOnReadyHandler(watch::drain);
    watches.add(watch);
    RouteTable table = current;
    if (table == null) {
      // The first watch of this controller: read now rather than wait for the timer.
      timer.execute(this::check);
    } else {
      watch.offer(table);
    }
  }

  private void check() {
    if (watches.isEmpty()) {
      eventsSinceRead.set(true); // read afresh when the next watch comes
      return;
    }
    boolean due = System.nanoTime() - lastReadNanos >= FULL_READ_INTERVAL.toNanos();
    if (!eventsSinceRead.getAndSet(false) && !due && current != null) {
      return;
    }
    lastReadNanos = System.nanoTime();
    RouteTable table;
    try {
      table = table(queries.routes(db));
    } catch (DatabaseException e) {
      // The watches keep the last table; the next check reads again.
      eventsSinceRead.set(true);
      LOG.log(Level.WARNING, "cannot read the gateway routes: " + e.getMessage());
      return;
    }
    boolean changed = !table.equals(current);
    current = table;
    for (Watch w : watches) {
      if (changed || !w.sentAny()) {
        w.offer(table);
      }
    }
  }

  static RouteTable table(List<GatewayRouteQueries.Route> routes) {
    RouteTable.Builder table = RouteTable.newBuilder();
    for (GatewayRouteQueries.Route r : routes) {
      ServiceRoute.Builder route = ServiceRoute.newBuilder().setService(r.service())
          .setGatewayPort(r.gatewayPort()).setSleepingVms(r.sleepingVms())
          .setArchivedVms(r.archivedVms()).setMaxLeasesPerVm(r.maxLeasesPerVm());
      for (GatewayRouteQueries.Backend b : r.active()) {
        route.addActive(RouteBackend.newBuilder().setVmId(b.vmId().toString())
            .setHost(b.host()).setPort(b.port()));
      }
      table.addRoutes(route);
    }
    return table.build();
  }

  @Override
  public void close() {
    if (listening != null) {
      listening.close();
    }
    timer.shutdownNow();
    // Every stream gets the same answer; made once.
    RuntimeException stopping = statusOf.apply(new FarmException.Unavailable("the controller is"
        + " stopping; watch the routes of another controller or this one once it is back"))
        .asRuntimeException();
    for (Watch w : watches) {
      w.end(stopping);
    }
    watches.clear();
  }

  /** One stream: the newest table not yet sent, sent when the stream can take it. */
  private static final class Watch {
    private final ServerCallStreamObserver<RouteTable> out;
    private final AtomicReference<RouteTable> pending = new AtomicReference<>();
    private volatile boolean sentAny;
    private boolean ended; // under this

    Watch(ServerCallStreamObserver<RouteTable> out) {
      this.out = out;
    }

    boolean sentAny() {
      return sentAny;
    }

    void offer(RouteTable table) {
      pending.set(table);
      drain();
    }

    synchronized void drain() {
      if (ended || out.isCancelled()) {
        return;
      }
      try {
        while (out.isReady()) {
          RouteTable next = pending.getAndSet(null);
          if (next == null) {
            return;
          }
          out.onNext(next);
          sentAny = true;
        }
      } catch (io.grpc.StatusRuntimeException | IllegalStateException closed) {
        // The call ended between the check and the send (cancelled, or its token revoked);
        // its cancel handler takes it out of the watches.
        ended = true;
      }
    }

    synchronized void end(RuntimeException stopping) {
      if (!ended && !out.isCancelled()) {
        ended = true;
        out.onError(stopping);
      }
    }
  }
}
