package org.servicefarm.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Hands each whole request to a worker and stops reading the connection until it is answered,
 * so one connection runs one handler at a time; requests a client pipelined into the same read
 * wait their turn, answered in order. Requests that cannot be served (bad URI, no route, workers
 * all busy) are answered on the event loop.
 */
final class RequestDispatcher extends SimpleChannelInboundHandler<FullHttpRequest> {
  private static final Logger LOG = Logger.getLogger(RequestDispatcher.class.getName());

  /** Finds the handler of a path. */
  @FunctionalInterface
  interface Routes {
    WebHandler find(String path);
  }

  private final Routes routes;
  private final Executor workers;
  private final boolean secure;
  // One per connection; touched on its event loop only.
  private final java.util.ArrayDeque<FullHttpRequest> waiting = new java.util.ArrayDeque<>();
  private boolean busy;

  RequestDispatcher(Routes routes, Executor workers, boolean secure) {
    this.routes = routes;
    this.workers = workers;
    this.secure = secure;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
    RequestDeadline deadline = ctx.pipeline().get(RequestDeadline.class);
    if (deadline != null) {
      deadline.arrived();
    }
    if (busy) {
      waiting.add(request.retain());
      return;
    }
    dispatch(ctx, request);
  }

  private void dispatch(ChannelHandlerContext ctx, FullHttpRequest request) {
    if (!request.decoderResult().isSuccess()) {
      answer(ctx, HttpResponseStatus.BAD_REQUEST, "the request could not be read: "
          + request.decoderResult().cause().getMessage() + "\n");
      return;
    }
    URI uri;
    try {
      uri = new URI(request.uri());
    } catch (URISyntaxException e) {
      answer(ctx, HttpResponseStatus.BAD_REQUEST, "the request's path is not a URI\n");
      return;
    }
    String path = uri.getRawPath() == null ? "" : uri.getRawPath();
    WebHandler handler = routes.find(path);
    if (handler == null) {
      answer(ctx, HttpResponseStatus.NOT_FOUND, "no such page\n");
      return;
    }
    WebExchange exchange = new WebExchange(ctx.channel(), request, uri, secure);
    ctx.channel().config().setAutoRead(false);
    busy = true;
    try {
      workers.execute(() -> run(ctx, handler, exchange));
    } catch (RejectedExecutionException e) {
      busy = false;
      answer(ctx, HttpResponseStatus.SERVICE_UNAVAILABLE, "too many requests at once\n");
    }
  }

  private void run(ChannelHandlerContext ctx, WebHandler handler, WebExchange exchange) {
    try {
      handler.handle(exchange);
    } catch (IOException | RuntimeException e) {
      LOG.log(Level.FINE, "HTTP handler ended early: " + e.getMessage(), e);
    } finally {
      exchange.close();
      ctx.executor().execute(() -> answered(ctx, exchange.keepsConnection()));
    }
  }

  /** On the event loop: the next pipelined request, or reading again. */
  private void answered(ChannelHandlerContext ctx, boolean keep) {
    busy = false;
    if (!keep || !ctx.channel().isActive()) {
      waiting.forEach(FullHttpRequest::release);
      waiting.clear();
      return;
    }
    FullHttpRequest next = waiting.poll();
    if (next != null) {
      try {
        dispatch(ctx, next);
      } finally {
        next.release();
      }
      return;
    }
    ctx.channel().config().setAutoRead(true);
    ctx.channel().read();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    waiting.forEach(FullHttpRequest::release);
    waiting.clear();
    super.channelInactive(ctx);
  }

  private static void answer(ChannelHandlerContext ctx, HttpResponseStatus status, String text) {
    DefaultFullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
        Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
    HttpUtil.setContentLength(response, response.content().readableBytes());
    HttpUtil.setKeepAlive(response, false);
    ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    // A reset connection, a TLS handshake gone wrong: that connection ends, nothing else does.
    LOG.log(Level.FINE, "HTTP connection failed: " + cause.getMessage());
    ctx.close();
  }
}
