package org.servicefarm.gateway;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One client connection spliced to one VM. A VM the farm has just booted (restored, built) is
 * ACTIVE once its guest reports in, yet its service may still be starting: QEMU's port forward
 * then accepts the connection and closes it without a byte. So until the VM's first byte the
 * client's bytes are kept (up to {@link #REPLAY_LIMIT}) and, should the VM close first, the
 * connection is made again and they are sent again, until the hold timeout; the client sees only
 * a later first byte. Everything runs on the client's event loop.
 *
 * <p>Once the VM has answered, bytes stream both ways as fast as the sockets take them: each side
 * reads while the other side's socket takes writes, what one wakeup read is written in one flush,
 * and a side whose peer's queue passes {@link NettyTransport#WATER_MARK}'s high mark stops being
 * read until it drains (bounded memory for a slow reader, without waiting for each write).
 */
final class Splice {
  static final int REPLAY_LIMIT = 64 * 1024;
  private static final long RETRY_PAUSE_MILLIS = 250;
  /**
   * A just-booted guest's forward may also take the bytes and never pass them on (seen with
   * busybox httpd answering 408 a minute later): a VM silent this long after the client's bytes
   * is connected to again.
   */
  private static final long FIRST_BYTE_PATIENCE_MILLIS = 10_000;

  private final Channel client;
  private final String service;
  private final ServiceBackends backends;
  private final LeasedVm vm;
  private final WakePath path;
  private final long acceptedNanos;
  private final long deadlineNanos;
  private final boolean http;
  private final GatewayMetrics metrics;
  private final Refusals refusals;
  /** The first connect failed: the router asks the farm again, with the bytes to send. */
  private final Consumer<ByteBuf> firstConnectFailed;
  private Channel server;
  private CompositeByteBuf replay; // null once the VM answered, or past the limit
  private boolean answered;
  private boolean connectedOnce;

  Splice(Channel client, String service, ServiceBackends backends, LeasedVm vm, WakePath path,
      long acceptedNanos, long holdNanos, boolean http, GatewayMetrics metrics, Refusals refusals,
      Consumer<ByteBuf> firstConnectFailed) {
    this.client = client;
    this.service = service;
    this.backends = backends;
    this.vm = vm;
    this.path = path;
    this.acceptedNanos = acceptedNanos;
    this.deadlineNanos = acceptedNanos + holdNanos;
    this.http = http;
    this.metrics = metrics;
    this.refusals = refusals;
    this.firstConnectFailed = firstConnectFailed;
  }

  /** Connects; {@code initial} (owned from here, may be null) goes to the VM first. */
  void start(ByteBuf initial) {
    if (!client.isActive()) {
      backends.detach(vm);
      release(initial);
      return;
    }
    // An ACTIVE VM's service is up: only one the farm just readied is given time to start.
    if (path != WakePath.ACTIVE) {
      replay = client.alloc().compositeBuffer();
      if (initial != null) {
        replay.addComponent(true, initial.retainedDuplicate());
      }
    }
    connect(initial);
  }

  private void connect(ByteBuf initial) {
    String headerValue = http ? "path=" + path.label() + "; held-ms=" + String.format(Locale.ROOT,
        "%.1f", (System.nanoTime() - acceptedNanos) / 1e6) : null;
    ChannelFuture connect = new Bootstrap()
        .group(client.eventLoop())
        .channel(NettyTransport.socketChannelLike(client))
        .option(ChannelOption.AUTO_READ, false)
        .option(ChannelOption.TCP_NODELAY, true)
        .option(ChannelOption.WRITE_BUFFER_WATER_MARK, NettyTransport.WATER_MARK)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
        .handler(new FirstResponse(this::answered, headerValue))
        .connect(vm.host, vm.port);
    server = connect.channel();
    server.config().setRecvByteBufAllocator(NettyTransport.RECEIVE_BUFFERS);
    server.pipeline().addLast(new FromVm());
    connect.addListener((ChannelFuture f) -> {
      if (!f.isSuccess()) {
        if (!connectedOnce && path == WakePath.ACTIVE) {
          backends.unreachable(vm);
          backends.detach(vm);
          firstConnectFailed.accept(initial);
        } else {
          release(initial);
          again();
        }
        return;
      }
      if (!client.isActive()) {
        server.close(); // the client left while the VM answered the connect
        release(initial);
        if (!connectedOnce) {
          backends.detach(vm);
        }
        return;
      }
      if (!connectedOnce) {
        connectedOnce = true;
        metrics.opened(service);
        client.closeFuture().addListener(c -> {
          metrics.closed(service);
          backends.detach(vm);
          release(replay);
          replay = null;
          Relay.closeOnFlush(server);
        });
        client.pipeline().addLast(new FromClient());
      }
      if (initial != null) {
        metrics.toService(service, initial.readableBytes());
        server.writeAndFlush(initial);
      }
      client.read();
      Channel attempt = server;
      client.eventLoop().schedule(() -> {
        if (!answered && replay != null && replay.readableBytes() > 0 && attempt == server) {
          attempt.close(); // channelInactive connects again
        }
      }, FIRST_BYTE_PATIENCE_MILLIS, TimeUnit.MILLISECONDS);
    });
  }

  private void answered() {
    metrics.firstByte(path, System.nanoTime() - acceptedNanos);
    answered = true;
    release(replay);
    replay = null;
    // From here both sides stream; FromVm already does (see there).
    client.config().setAutoRead(server.isWritable());
  }

  /** The VM closed (or refused) before its first byte: connect again, or give up at the hold's end. */
  private void again() {
    if (!client.isActive()) {
      return;
    }
    if (replay == null || System.nanoTime() >= deadlineNanos) {
      refusals.refuse(client, service, new Refusal.Reason(Refusal.VM_UNREACHABLE, "service '"
          + service + "': " + vm + " closed every connection before answering"), http);
      return;
    }
    client.eventLoop().schedule(() -> {
      if (client.isActive() && replay != null) {
        connect(replay.readableBytes() == 0 ? null : replay.retainedDuplicate());
      }
    }, RETRY_PAUSE_MILLIS, TimeUnit.MILLISECONDS);
  }

  /**
   * The VM's side: to the client, with the VM closing first before an answer sent again. It reads
   * whenever the client's socket takes writes: until the VM's first byte there is nothing to
   * keep, and after it the VM's bytes stream.
   */
  private final class FromVm extends ChannelInboundHandlerAdapter {
    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      ctx.channel().config().setAutoRead(client.isWritable());
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof ByteBuf bytes) {
        metrics.toClient(service, bytes.readableBytes());
      }
      client.write(msg).addListener(closeBothOnFailure);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      client.flush();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      // The VM's socket drained or filled: the client's bytes flow again or wait.
      if (answered && ctx.channel() == server) {
        client.config().setAutoRead(server.isWritable());
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (ctx.channel() != server) {
        return; // an earlier attempt's channel
      }
      if (answered || replay == null) {
        Relay.closeOnFlush(client);
      } else {
        again();
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close(); // a reset; channelInactive decides what follows
    }
  }

  /**
   * The client's side: to the VM. Until the VM's first byte a copy is kept and the next read
   * waits for each write (a write to a VM that closed is sent again with the next attempt); after
   * it the client's bytes stream like the VM's.
   */
  private final class FromClient extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf bytes = (ByteBuf) msg;
      metrics.toService(service, bytes.readableBytes());
      if (answered) {
        server.write(bytes).addListener(closeBothOnFailure);
        return;
      }
      if (replay != null) {
        if (replay.readableBytes() + bytes.readableBytes() > REPLAY_LIMIT) {
          release(replay); // too much to send again: this connection takes its chances
          replay = null;
        } else {
          replay.addComponent(true, bytes.retainedDuplicate());
        }
      }
      Channel to = server;
      to.writeAndFlush(bytes).addListener((ChannelFutureListener) f -> {
        if (f.isSuccess() || (replay != null && !answered)) {
          // A write to a VM that closed before answering is sent again with the next attempt;
          // reading goes on from the new connection.
          if (to == server && to.isActive() && !answered) {
            ctx.channel().read();
          }
        } else {
          ctx.channel().close();
        }
      });
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      if (answered) {
        server.flush();
      }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      // The client's socket drained or filled: the VM's bytes flow again or wait.
      if (server != null) {
        server.config().setAutoRead(client.isWritable());
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }

  /** A failed write (the peer reset) ends the connection on both sides. */
  private final ChannelFutureListener closeBothOnFailure = this::closeBothOnFailure;

  private void closeBothOnFailure(ChannelFuture write) {
    if (!write.isSuccess()) {
      client.close();
      if (server != null) {
        server.close();
      }
    }
  }

  private static void release(ByteBuf b) {
    if (b != null && b.refCnt() > 0) {
      b.release();
    }
  }
}
