package org.servicefarm.gateway;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.util.function.LongConsumer;

/**
 * One direction of a spliced connection, as Netty's proxy example does it: what this channel
 * reads is written to the other, and the next read is asked for only once that write is done, so
 * a slow reader on one side slows the writer on the other instead of filling memory. Either side
 * closing flushes and closes the other.
 */
final class Relay extends ChannelInboundHandlerAdapter {
  private final Channel other;
  private final LongConsumer counted;

  Relay(Channel other, LongConsumer counted) {
    this.other = other;
    this.counted = counted;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    ctx.read();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof ByteBuf bytes) {
      counted.accept(bytes.readableBytes());
    }
    other.writeAndFlush(msg).addListener((ChannelFutureListener) f -> {
      if (f.isSuccess()) {
        ctx.channel().read();
      } else {
        f.channel().close();
        ctx.channel().close();
      }
    });
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    closeOnFlush(other);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    // A reset by either peer ends the splice; it is no fault of the gateway's.
    closeOnFlush(ctx.channel());
  }

  static void closeOnFlush(Channel channel) {
    if (channel.isActive()) {
      channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
  }
}
