package org.servicefarm.gateway;

import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.servicefarm.api.v1.GatewayRoutesGrpc;
import org.servicefarm.api.v1.RouteTable;
import org.servicefarm.api.v1.WatchRoutesRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps {@link org.servicefarm.gateway.RouteTable} from the controller's WatchRoutes stream: the
 * controller pushes each change, the gateway never polls. A stream that ends is opened again
 * with backoff; meanwhile the last table stays in use (a gateway cut off from the controller
 * still splices to VMs it knows, and held connections wait for the farm as any client would).
 */
final class RouteWatcher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RouteWatcher.class);
  private static final Duration FIRST_BACKOFF = Duration.ofMillis(250);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(5);

  private final GatewayRoutesGrpc.GatewayRoutesStub stub;
  private final org.servicefarm.gateway.RouteTable table;
  private final ScheduledExecutorService timer;
  private volatile boolean connected;
  private volatile boolean closed;
  private volatile ClientCallStreamObserver<WatchRoutesRequest> call;
  private long backoffMillis = FIRST_BACKOFF.toMillis(); // timer thread and stream callbacks, in turn

  RouteWatcher(Channel channel, org.servicefarm.gateway.RouteTable table,
      ScheduledExecutorService timer) {
    this.stub = GatewayRoutesGrpc.newStub(channel);
    this.table = table;
    this.timer = timer;
  }

  void start() {
    open();
  }

  /** Whether the stream is open and has delivered a table. */
  boolean connected() {
    return connected;
  }

  private void open() {
    if (closed) {
      return;
    }
    stub.watchRoutes(WatchRoutesRequest.getDefaultInstance(),
        new ClientResponseObserver<WatchRoutesRequest, RouteTable>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<WatchRoutesRequest> requestStream) {
            call = requestStream;
          }

          @Override
          public void onNext(RouteTable routes) {
            if (!connected) {
              log.info("route watch open: {} services", routes.getRoutesCount());
            }
            connected = true;
            backoffMillis = FIRST_BACKOFF.toMillis();
            table.replace(routes);
          }

          @Override
          public void onError(Throwable t) {
            ended(Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {
            ended(Status.UNAVAILABLE.withDescription("the controller ended the route watch"));
          }
        });
  }

  private void ended(Status status) {
    connected = false;
    if (closed) {
      return;
    }
    long wait = backoffMillis;
    backoffMillis = Math.min(backoffMillis * 2, MAX_BACKOFF.toMillis());
    log.warn("route watch ended ({}: {}); keeping the last table, opening it again in {} ms",
        status.getCode(), status.getDescription(), wait);
    timer.schedule(this::open, wait, TimeUnit.MILLISECONDS);
  }

  @Override
  public void close() {
    closed = true;
    ClientCallStreamObserver<WatchRoutesRequest> open = call;
    if (open != null) {
      open.cancel("gateway stopping", null);
    }
  }
}
