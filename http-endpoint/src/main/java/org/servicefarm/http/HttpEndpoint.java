package org.servicefarm.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.timeout.IdleStateHandler;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An HTTP/1.1 server on Netty for the daemons' small HTTP ports. The event loop reads each
 * request whole, within a deadline and a size bound, and only then hands it to one of a few
 * worker threads; a connection idle past its limit is closed, and connections beyond the bound
 * are refused. So a client that sends a byte and stops holds a socket and a little memory, never
 * a thread, and health checks keep being answered however many such clients there are.
 *
 * <p>Routes are matched by the longest prefix of the path, as the JDK's server did.
 */
public final class HttpEndpoint implements AutoCloseable {

  /**
   * @param maxConnections open connections at most; more are closed at once
   * @param maxRequestBytes request line, headers and body together (bodies beyond are 413)
   * @param requestTimeout a request begun must arrive whole within this
   * @param idleTimeout a connection neither reading nor writing this long is closed
   * @param workers threads that run handlers
   * @param queuedRequests whole requests waiting for a worker; more are answered 503
   */
  public record Limits(int maxConnections, int maxRequestBytes, Duration requestTimeout,
      Duration idleTimeout, int workers, int queuedRequests) {

    /** Sizes for the daemons' ports: pages and scrapes are small and few. */
    public static Limits defaults() {
      return new Limits(4096, 64 * 1024, Duration.ofSeconds(10), Duration.ofSeconds(60), 4, 256);
    }
  }

  private final Channel server;
  private final EventLoopGroup boss;
  private final EventLoopGroup io;
  private final ThreadPoolExecutor workers;
  private final ConcurrentSkipListMap<String, WebHandler> routes;

  private HttpEndpoint(Channel server, EventLoopGroup boss, EventLoopGroup io,
      ThreadPoolExecutor workers, ConcurrentSkipListMap<String, WebHandler> routes) {
    this.server = server;
    this.boss = boss;
    this.io = io;
    this.workers = workers;
    this.routes = routes;
  }

  /** Serves {@code handler} for {@code prefix} and every path it begins, from now on. */
  public void route(String prefix, WebHandler handler) {
    routes.put(prefix, handler);
  }

  /**
   * Serves {@code routes} (path prefix to handler) on {@code address} (port 0 picks a free one),
   * over TLS when {@code tls} is given.
   *
   * @param name names the threads (e.g. "web", "metrics-http")
   * @throws IOException naming the address when it cannot be bound
   */
  public static HttpEndpoint start(String name, InetSocketAddress address, Limits limits,
      Optional<SslContext> tls, Map<String, WebHandler> routes) throws IOException {
    ConcurrentSkipListMap<String, WebHandler> byPrefix = new ConcurrentSkipListMap<>(routes);
    AtomicInteger threadCount = new AtomicInteger();
    ThreadPoolExecutor workers = new ThreadPoolExecutor(limits.workers(), limits.workers(), 0,
        TimeUnit.SECONDS, new ArrayBlockingQueue<>(limits.queuedRequests()), r -> {
          Thread t = new Thread(r, name + "-" + threadCount.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, daemon(name + "-accept"),
        NioIoHandler.newFactory());
    EventLoopGroup io = new MultiThreadIoEventLoopGroup(1, daemon(name + "-io"),
        NioIoHandler.newFactory());
    ConnectionLimit connectionLimit = new ConnectionLimit(limits.maxConnections());
    RequestDispatcher.Routes lookup = path -> longestPrefix(byPrefix, path);
    ServerBootstrap bootstrap = new ServerBootstrap()
        .group(boss, io)
        .channel(NioServerSocketChannel.class)
        .option(ChannelOption.SO_BACKLOG, 1024)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ChannelPipeline p = ch.pipeline();
            p.addLast(connectionLimit);
            tls.ifPresent(ssl -> p.addLast(ssl.newHandler(ch.alloc())));
            p.addLast(new IdleStateHandler(0, 0, limits.idleTimeout().toMillis(),
                TimeUnit.MILLISECONDS));
            p.addLast(new RequestDeadline(limits.requestTimeout()));
            p.addLast(new HttpServerCodec(4096, 16 * 1024, 8192));
            p.addLast(new HttpServerExpectContinueHandler());
            p.addLast(new HttpObjectAggregator(limits.maxRequestBytes()));
            p.addLast(new RequestDispatcher(lookup, workers, tls.isPresent()));
          }
        });
    try {
      Channel server = bootstrap.bind(address).syncUninterruptibly().channel();
      return new HttpEndpoint(server, boss, io, workers, byPrefix);
    } catch (RuntimeException e) {
      boss.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
      io.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
      workers.shutdownNow();
      if (e.getCause() instanceof BindException || e instanceof io.netty.channel.ChannelException) {
        throw new IOException("cannot serve HTTP on " + address + ": " + e.getMessage(), e);
      }
      throw e;
    }
  }

  private static WebHandler longestPrefix(ConcurrentSkipListMap<String, WebHandler> routes,
      String path) {
    WebHandler found = null;
    int longest = -1;
    for (Map.Entry<String, WebHandler> route : routes.entrySet()) {
      if (path.startsWith(route.getKey()) && route.getKey().length() > longest) {
        found = route.getValue();
        longest = route.getKey().length();
      }
    }
    return found;
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  /** Where it listens, with the port chosen when 0 was asked for. */
  public InetSocketAddress address() {
    return (InetSocketAddress) server.localAddress();
  }

  @Override
  public void close() {
    server.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
    boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    io.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    workers.shutdownNow();
  }
}
