package org.servicefarm.gateway;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.nio.charset.StandardCharsets;

/**
 * Sits before the VM side's {@link Relay} until the VM's first bytes: records the time to first
 * byte and, on the HTTP port, adds a header to the first response naming the path the
 * connection took and how long the gateway held it ({@code Servicefarm-Gateway: path=woke;
 * held-ms=8421}). Then it steps out of the pipeline.
 */
final class FirstResponse extends ChannelInboundHandlerAdapter {
  /** A status line longer than this is not looked into; the response passes unchanged. */
  private static final int MAX_STATUS_LINE = 8 * 1024;
  static final String HEADER = "Servicefarm-Gateway";

  private final Runnable onFirstByte;
  private final String headerLine; // null: not HTTP, nothing to add
  private ByteBuf head;
  private boolean seen;

  FirstResponse(Runnable onFirstByte, String headerValue) {
    this.onFirstByte = onFirstByte;
    this.headerLine = headerValue == null ? null : HEADER + ": " + headerValue + "\r\n";
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!seen) {
      seen = true;
      onFirstByte.run();
    }
    if (headerLine == null || !(msg instanceof ByteBuf bytes)) {
      pass(ctx, msg);
      return;
    }
    head = head == null ? bytes : ctx.alloc().compositeBuffer().addComponents(true, head, bytes);
    int lineEnd = indexOfCrLf(head);
    if (lineEnd < 0 && head.readableBytes() < MAX_STATUS_LINE) {
      ctx.read(); // the relay after us asks for more only once it has written something
      return;
    }
    ByteBuf out = head;
    head = null;
    if (lineEnd >= 0 && startsWithHttp(out)) {
      ByteBuf marked = ctx.alloc().buffer(out.readableBytes() + headerLine.length());
      marked.writeBytes(out, out.readerIndex(), lineEnd + 2 - out.readerIndex());
      marked.writeCharSequence(headerLine, StandardCharsets.US_ASCII);
      marked.writeBytes(out, lineEnd + 2, out.writerIndex() - lineEnd - 2);
      out.release();
      out = marked;
    }
    pass(ctx, out);
  }

  private void pass(ChannelHandlerContext ctx, Object msg) {
    ctx.pipeline().remove(this);
    ctx.fireChannelRead(msg);
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    if (head != null) {
      head.release();
      head = null;
    }
  }

  private static boolean startsWithHttp(ByteBuf b) {
    return b.readableBytes() >= 5
        && b.toString(b.readerIndex(), 5, StandardCharsets.US_ASCII).equals("HTTP/");
  }

  /** The index of the first CR of a CRLF in the readable bytes, or -1. */
  static int indexOfCrLf(ByteBuf b) {
    for (int i = b.readerIndex(); i < b.writerIndex() - 1; i++) {
      if (b.getByte(i) == '\r' && b.getByte(i + 1) == '\n') {
        return i;
      }
    }
    return -1;
  }
}
