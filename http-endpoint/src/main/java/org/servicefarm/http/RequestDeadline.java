package org.servicefarm.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleStateEvent;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Closes a connection whose request does not arrive whole within the deadline, counted from its
 * first byte (a client trickling a byte now and then is not idle, but is not a request either),
 * and a connection the idle handler before it found idle. The dispatcher calls {@link #arrived}
 * once a request is whole.
 */
final class RequestDeadline extends ChannelInboundHandlerAdapter {
  private final Duration timeout;
  private ScheduledFuture<?> deadline; // touched on the channel's event loop only

  RequestDeadline(Duration timeout) {
    this.timeout = timeout;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
    if (deadline == null && msg instanceof ByteBuf bytes && bytes.isReadable()) {
      deadline = ctx.executor().schedule(() -> {
        ctx.close();
      }, timeout.toMillis(), TimeUnit.MILLISECONDS);
    }
    super.channelRead(ctx, msg);
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof IdleStateEvent) {
      ctx.close();
      return;
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    arrived();
    super.channelInactive(ctx);
  }

  /** The request is whole: its deadline no longer applies. On the event loop. */
  void arrived() {
    if (deadline != null) {
      deadline.cancel(false);
      deadline = null;
    }
  }
}
