package org.servicefarm.gateway;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * A connection on the gateway's HTTP port: reads the request head (at most maxHeaderBytes, within
 * the header timeout, so a slowloris client or a huge header costs bounded memory and time), takes
 * the service from {@code Host: <service>.<domain>}, and hands the connection with the bytes read
 * so far to the router. The connection then belongs to that service: later requests on it go to
 * the same VM.
 */
final class HttpHead extends ChannelInboundHandlerAdapter {
  private static final Pattern SERVICE = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
  private static final byte[] END_OF_HEAD = {'\r', '\n', '\r', '\n'};

  private final Router router;
  private final Refusals refusals;
  private final GatewaySettings settings;
  private final HoldLimits limits;
  private final long accepted = System.nanoTime();
  private ByteBuf head;
  private ScheduledFuture<?> deadline;
  private boolean slotTaken;
  private boolean done;

  HttpHead(Router router, GatewaySettings settings, HoldLimits limits) {
    this.router = router;
    this.refusals = router.refusals();
    this.settings = settings;
    this.limits = limits;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    if (!limits.tryTotal()) {
      done = true;
      refusals.refuse(ctx.channel(), GatewayMetrics.NO_SERVICE, new Refusal.Reason(
          Refusal.TOTAL_HELD_LIMIT, "the gateway already holds " + settings.maxHeldTotal()
              + " connections; try again"), true);
      return;
    }
    slotTaken = true;
    head = ctx.alloc().buffer(1024, settings.maxHeaderBytes());
    deadline = ctx.executor().schedule(() -> giveUp(ctx, new Refusal.Reason(
        Refusal.HEADER_TIMEOUT, "the request head did not arrive within "
            + settings.headerTimeout().toSeconds() + " s")),
        settings.headerTimeout().toMillis(), TimeUnit.MILLISECONDS);
    ctx.read();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ByteBuf in = (ByteBuf) msg;
    try {
      if (done) {
        return;
      }
      if (in.readableBytes() > head.maxWritableBytes()) {
        giveUp(ctx, new Refusal.Reason(Refusal.HEADER_TOO_LARGE, "the request head is longer"
            + " than " + settings.maxHeaderBytes() + " bytes"));
        return;
      }
      head.writeBytes(in);
    } finally {
      in.release();
    }
    int end = indexOf(head, END_OF_HEAD);
    if (end < 0) {
      ctx.read();
      return;
    }
    Optional<String> host = hostHeader(head.toString(head.readerIndex(), end - head.readerIndex(),
        StandardCharsets.ISO_8859_1));
    Optional<String> service = host.flatMap(this::serviceOf);
    if (service.isEmpty()) {
      giveUp(ctx, new Refusal.Reason(Refusal.BAD_REQUEST, host.map(h -> "Host '" + h
          + "' does not name a service as <service>." + settings.domain())
          .orElse("the request has no Host header")));
      return;
    }
    ByteBuf bytes = head;
    head = null;
    finish(ctx);
    router.route(ctx.channel(), service.get(), bytes, true, accepted);
  }

  private Optional<String> serviceOf(String host) {
    String name = host.toLowerCase(Locale.ROOT);
    int colon = name.lastIndexOf(':');
    if (colon > 0 && !name.endsWith("]")) {
      name = name.substring(0, colon);
    }
    String suffix = "." + settings.domain().toLowerCase(Locale.ROOT);
    if (!name.endsWith(suffix)) {
      return Optional.empty();
    }
    String service = name.substring(0, name.length() - suffix.length());
    return SERVICE.matcher(service).matches() ? Optional.of(service) : Optional.empty();
  }

  static Optional<String> hostHeader(String head) {
    String[] lines = head.split("\r\n");
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      if (colon > 0 && lines[i].substring(0, colon).trim().equalsIgnoreCase("host")) {
        return Optional.of(lines[i].substring(colon + 1).trim());
      }
    }
    return Optional.empty();
  }

  private void giveUp(ChannelHandlerContext ctx, Refusal.Reason why) {
    if (done) {
      return;
    }
    finish(ctx);
    refusals.refuse(ctx.channel(), GatewayMetrics.NO_SERVICE, why, true);
  }

  /** Out of the pipeline, the slot and the timer given back. */
  private void finish(ChannelHandlerContext ctx) {
    done = true;
    if (deadline != null) {
      deadline.cancel(false);
    }
    if (slotTaken) {
      slotTaken = false;
      limits.releaseTotal();
    }
    if (ctx.pipeline().context(this) != null) {
      ctx.pipeline().remove(this);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    finish(ctx);
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    if (head != null) {
      head.release();
      head = null;
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();
  }

  static int indexOf(ByteBuf b, byte[] needle) {
    outer:
    for (int i = b.readerIndex(); i <= b.writerIndex() - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (b.getByte(i + j) != needle[j]) {
          continue outer;
        }
      }
      return i + needle.length;
    }
    return -1;
  }
}
