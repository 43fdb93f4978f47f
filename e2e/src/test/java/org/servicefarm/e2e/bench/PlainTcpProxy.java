package org.servicefarm.e2e.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.InetSocketAddress;

/**
 * The floor a gateway is measured against: Netty's own proxy example with nothing more (no
 * routing, no hold, no lease), on the same event loop setup, forwarding every connection to one
 * address. Only for benchmarks.
 */
final class PlainTcpProxy implements AutoCloseable {
  private final EventLoopGroup acceptors = new MultiThreadIoEventLoopGroup(1,
      NioIoHandler.newFactory());
  private final EventLoopGroup workers = new MultiThreadIoEventLoopGroup(NioIoHandler.newFactory());
  private final Channel server;

  PlainTcpProxy(String backendHost, int backendPort) throws InterruptedException {
    server = new ServerBootstrap().group(acceptors, workers)
        .channel(NioServerSocketChannel.class)
        .option(ChannelOption.SO_BACKLOG, 1024)
        .childOption(ChannelOption.AUTO_READ, false)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel client) {
            client.pipeline().addLast(new ChannelInboundHandlerAdapter() {
              @Override
              public void channelActive(ChannelHandlerContext ctx) {
                ChannelFuture connect = new Bootstrap().group(client.eventLoop())
                    .channel(NioSocketChannel.class)
                    .option(ChannelOption.AUTO_READ, false)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .handler(new Pipe(client)).connect(backendHost, backendPort);
                Channel backend = connect.channel();
                connect.addListener((ChannelFuture f) -> {
                  if (!f.isSuccess()) {
                    client.close();
                    return;
                  }
                  client.pipeline().addLast(new Pipe(backend));
                  client.read();
                });
              }
            });
          }
        }).bind("127.0.0.1", 0).sync().channel();
  }

  int port() {
    return ((InetSocketAddress) server.localAddress()).getPort();
  }

  /** What one side reads goes to the other; the next read once the write is done. */
  private static final class Pipe extends ChannelInboundHandlerAdapter {
    private final Channel other;

    Pipe(Channel other) {
      this.other = other;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      ctx.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      other.writeAndFlush(msg).addListener((ChannelFutureListener) f -> {
        if (f.isSuccess()) {
          ctx.channel().read();
        } else {
          ctx.channel().close();
        }
      });
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (other.isActive()) {
        other.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }

  @Override
  public void close() {
    server.close();
    acceptors.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
    workers.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
  }
}
