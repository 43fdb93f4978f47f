package org.servicefarm.gateway;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's listening sockets: the HTTP port, and one port per service whose gateway port is
 * in this gateway's range, opened when the routing table first names the service and closed when
 * it no longer does (connections already spliced go on).
 */
final class GatewayListeners implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GatewayListeners.class);

  private final EventLoopGroup acceptors;
  private final EventLoopGroup workers;
  private final NettyTransport transport;
  private final InetAddress bindAddress;
  private final int firstPort;
  private final int lastPort;
  private final Map<Integer, Channel> servicePorts = new ConcurrentHashMap<>();
  private Channel http;

  GatewayListeners(NettyTransport transport, EventLoopGroup acceptors, EventLoopGroup workers,
      InetAddress bindAddress, int firstPort, int lastPort) {
    this.transport = transport;
    this.acceptors = acceptors;
    this.workers = workers;
    this.bindAddress = bindAddress;
    this.firstPort = firstPort;
    this.lastPort = lastPort;
  }

  /**
   * Opens the HTTP port (0 picks a free one).
   *
   * @throws IOException naming the address when it cannot be bound
   */
  InetSocketAddress openHttp(int port, Supplier<ChannelHandler> handler) throws IOException {
    http = bind(port, handler);
    return (InetSocketAddress) http.localAddress();
  }

  /** Opens and closes service ports to match the table. */
  synchronized void follow(RouteTable table, Supplier<ChannelHandler> handler) {
    Set<Integer> wanted = table.routes().stream().map(RouteTable.Route::gatewayPort)
        .filter(p -> p >= firstPort && p <= lastPort).collect(Collectors.toSet());
    for (int port : wanted) {
      if (!servicePorts.containsKey(port)) {
        try {
          servicePorts.put(port, bind(port, handler));
          log.info("listening for service {} on {}:{}",
              table.port(port).map(RouteTable.Route::service).orElse("?"),
              bindAddress.getHostAddress(), port);
        } catch (IOException e) {
          // Another program holds the port; the service is still reached over HTTP. Tried again
          // when the table changes.
          log.warn("cannot listen on gateway port {}: {}", port, e.getMessage());
        }
      }
    }
    for (Integer port : Set.copyOf(servicePorts.keySet())) {
      if (!wanted.contains(port)) {
        servicePorts.remove(port).close();
        log.info("closed gateway port {}: no service has it now", port);
      }
    }
  }

  /** The service ports open now. */
  Set<Integer> servicePorts() {
    return Set.copyOf(servicePorts.keySet());
  }

  private Channel bind(int port, Supplier<ChannelHandler> handler) throws IOException {
    ServerBootstrap bootstrap = new ServerBootstrap()
        .group(acceptors, workers)
        .channel(transport.serverChannel())
        .option(ChannelOption.SO_BACKLOG, 1024)
        .option(ChannelOption.SO_REUSEADDR, true)
        .childOption(ChannelOption.AUTO_READ, false)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, NettyTransport.WATER_MARK)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.config().setRecvByteBufAllocator(NettyTransport.RECEIVE_BUFFERS);
            ch.pipeline().addLast(handler.get());
          }
        });
    try {
      return bootstrap.bind(new InetSocketAddress(bindAddress, port)).sync().channel();
    } catch (Exception e) {
      // Netty rethrows the bind's IOException undeclared; say which address.
      throw new IOException("cannot listen on " + bindAddress.getHostAddress() + ":" + port
          + ": " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    if (http != null) {
      http.close();
    }
    servicePorts.values().forEach(Channel::close);
    servicePorts.clear();
  }
}
