package org.servicefarm.gateway;

import io.grpc.Channel;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * One gateway: the routing table kept from the controller's watch stream, the listening ports it
 * implies, and the router that holds, wakes and splices connections. It keeps nothing on disk:
 * any number can run, and one that stops loses only its own open connections.
 */
public final class Gateway implements AutoCloseable {
  private final RouteTable table = new RouteTable();
  private final GatewayMetrics metrics;
  private final Router router;
  private final RouteWatcher watcher;
  private final GatewayListeners listeners;
  private final EventLoopGroup acceptors;
  private final EventLoopGroup workers;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "gateway-leases");
    t.setDaemon(true);
    return t;
  });
  private final GatewaySettings settings;
  private final HoldLimits limits;
  private InetSocketAddress httpAddress;

  /**
   * @param farm the broker calls, made as the SDK makes them
   * @param controller the channel (with the gateway's credentials) the route watch runs on
   * @param bindAddress where every port listens
   * @param firstPort the first service port this gateway opens
   * @param lastPort the last service port this gateway opens
   */
  public Gateway(Farm farm, Channel controller, GatewaySettings settings, GatewayMetrics metrics,
      InetAddress bindAddress, int firstPort, int lastPort) {
    this(farm, controller, settings, metrics, bindAddress, firstPort, lastPort,
        NettyTransport.best());
  }

  /** As above, the sockets on {@code transport}. */
  Gateway(Farm farm, Channel controller, GatewaySettings settings, GatewayMetrics metrics,
      InetAddress bindAddress, int firstPort, int lastPort, NettyTransport transport) {
    this.acceptors = transport.newGroup(1);
    this.workers = transport.newGroup(0);
    this.settings = settings;
    this.metrics = metrics;
    this.limits = new HoldLimits(settings.maxHeldPerService(), settings.maxHeldTotal());
    this.router = new Router(table, farm, settings, metrics, limits);
    this.watcher = new RouteWatcher(controller, table, timer);
    this.listeners = new GatewayListeners(transport, acceptors, workers, bindAddress,
        firstPort, lastPort);
    metrics.watch(watcher::connected);
  }

  /**
   * Opens the HTTP port (0: a free one) and the route watch; service ports open as the table
   * arrives.
   *
   * @throws IOException naming the address when the HTTP port cannot be bound
   */
  public void start(int httpPort) throws IOException {
    httpAddress = listeners.openHttp(httpPort,
        () -> new HttpHead(router, settings, limits));
    table.onChange(t -> listeners.follow(t, () -> new TcpAccept(t, router)));
    timer.scheduleWithFixedDelay(router::tick, 1, 1, TimeUnit.SECONDS);
    watcher.start();
  }

  public InetSocketAddress httpAddress() {
    return httpAddress;
  }

  /** Whether the route watch is open and has delivered a table. */
  public boolean routesConnected() {
    return watcher.connected();
  }

  public Set<Integer> servicePorts() {
    return listeners.servicePorts();
  }

  public GatewayMetrics metrics() {
    return metrics;
  }

  /** Stops listening, releases every lease, and closes every connection. */
  @Override
  public void close() {
    watcher.close();
    listeners.close();
    router.releaseAll();
    timer.shutdownNow();
    acceptors.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }
}
