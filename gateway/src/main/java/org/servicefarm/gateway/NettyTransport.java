package org.servicefarm.gateway;

import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The event loops and channel kinds the gateway's sockets use: Netty's native epoll transport on
 * Linux (its library is in the jar for x86_64), NIO elsewhere or when the library cannot load,
 * and the socket options a relay of bulk bytes wants on either.
 */
final class NettyTransport {
  private static final Logger log = LoggerFactory.getLogger(NettyTransport.class);

  /**
   * Reads grow up to this size while a peer keeps the socket full (a download), and shrink back
   * for request/response traffic: fewer, larger writes to the other side.
   */
  static final AdaptiveRecvByteBufAllocator RECEIVE_BUFFERS =
      new AdaptiveRecvByteBufAllocator(2048, 64 * 1024, 1024 * 1024);
  /**
   * Bytes queued for one side's socket before the other side stops being read: a slow reader
   * costs at most about this much memory per connection.
   */
  static final WriteBufferWaterMark WATER_MARK =
      new WriteBufferWaterMark(512 * 1024, 2 * 1024 * 1024);

  final boolean epoll;

  private NettyTransport(boolean epoll) {
    this.epoll = epoll;
  }

  /**
   * The transport named: {@code auto} (epoll when it loads, NIO otherwise, the reason logged),
   * {@code epoll} (refused, with the reason, when it does not load) or {@code nio}.
   *
   * @throws IllegalArgumentException naming the value or why epoll cannot load
   */
  static NettyTransport named(String name) {
    switch (name) {
      case "auto":
        return best();
      case "nio":
        log.info("relay transport: NIO (asked for)");
        return new NettyTransport(false);
      case "epoll":
        if (!Epoll.isAvailable()) {
          throw new IllegalArgumentException("the native epoll transport does not load here: "
              + Epoll.unavailabilityCause());
        }
        log.info("relay transport: native epoll");
        return new NettyTransport(true);
      default:
        throw new IllegalArgumentException("unknown transport '" + name
            + "' (known: auto, epoll, nio)");
    }
  }

  /** Epoll when it loads, NIO otherwise (the reason logged once). */
  static NettyTransport best() {
    if (Epoll.isAvailable()) {
      log.info("relay transport: native epoll");
      return new NettyTransport(true);
    }
    log.info("relay transport: NIO (native epoll unavailable: {})",
        Epoll.unavailabilityCause().toString());
    return new NettyTransport(false);
  }

  EventLoopGroup newGroup(int threads) {
    IoHandlerFactory handlers = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    return threads > 0 ? new MultiThreadIoEventLoopGroup(threads, handlers)
        : new MultiThreadIoEventLoopGroup(handlers);
  }

  Class<? extends ServerChannel> serverChannel() {
    return epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
  }

  /** The channel kind for a connection made on {@code accepted}'s event loop. */
  static Class<? extends SocketChannel> socketChannelLike(Channel accepted) {
    return accepted instanceof EpollSocketChannel ? EpollSocketChannel.class
        : NioSocketChannel.class;
  }

  @Override
  public String toString() {
    return epoll ? "epoll" : "nio";
  }
}
