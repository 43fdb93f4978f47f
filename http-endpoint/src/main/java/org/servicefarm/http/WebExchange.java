package org.servicefarm.http;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.time.Duration;

/**
 * One request and its response, handled on a worker thread while the connection's event loop
 * does the I/O. The request arrived whole (bounded); the response is written as it is produced,
 * each flush waiting (bounded) until the bytes left, so a slow reader slows its own stream only.
 */
public final class WebExchange {
  /** How long one flush may wait for a slow reader before the stream is given up. */
  static final Duration WRITE_TIMEOUT = Duration.ofSeconds(30);

  private final Channel channel;
  private final String method;
  private final URI uri;
  private final byte[] body;
  private final boolean keepAlive;
  private final boolean secure;
  private final WebHeaders requestHeaders;
  private final DefaultHttpHeaders responseHeaderValues = new DefaultHttpHeaders();
  private final WebHeaders responseHeaders = new WebHeaders(responseHeaderValues);
  private int responseCode = -1;
  private boolean bodyExpected;
  private boolean finished;
  private ResponseBody out;

  WebExchange(Channel channel, FullHttpRequest request, URI uri, boolean secure) {
    this.channel = channel;
    this.method = request.method().name();
    this.uri = uri;
    this.body = ByteBufUtil.getBytes(request.content());
    this.keepAlive = HttpUtil.isKeepAlive(request);
    this.secure = secure;
    this.requestHeaders = new WebHeaders(request.headers().copy());
  }

  public String getRequestMethod() {
    return method;
  }

  public URI getRequestURI() {
    return uri;
  }

  public WebHeaders getRequestHeaders() {
    return requestHeaders;
  }

  public WebHeaders getResponseHeaders() {
    return responseHeaders;
  }

  public InputStream getRequestBody() {
    return new ByteArrayInputStream(body);
  }

  /** Who sent the request ("address:port"), as the connection shows it. */
  public String remoteAddress() {
    java.net.SocketAddress remote = channel.remoteAddress();
    if (remote instanceof java.net.InetSocketAddress inet && inet.getAddress() != null) {
      return inet.getAddress().getHostAddress() + ":" + inet.getPort();
    }
    return String.valueOf(remote);
  }

  /** Whether the request came over TLS. */
  public boolean isSecure() {
    return secure;
  }

  /** The status sent, or -1 before {@link #sendResponseHeaders}. */
  public int getResponseCode() {
    return responseCode;
  }

  /**
   * Sends the status and headers. {@code length}: the body's bytes, -1 for no body, 0 for a body
   * of unknown length (sent chunked: a stream).
   */
  public void sendResponseHeaders(int status, long length) throws IOException {
    if (responseCode != -1) {
      throw new IOException("the response headers were sent already");
    }
    responseCode = status;
    DefaultHttpResponse response = new DefaultHttpResponse(HttpVersion.HTTP_1_1,
        HttpResponseStatus.valueOf(status), responseHeaderValues);
    if (length > 0) {
      HttpUtil.setContentLength(response, length);
    } else if (length == 0) {
      HttpUtil.setTransferEncodingChunked(response, true);
    } else {
      HttpUtil.setContentLength(response, 0);
    }
    HttpUtil.setKeepAlive(response, keepAlive);
    bodyExpected = length >= 0;
    await(channel.writeAndFlush(response));
    if (!bodyExpected) {
      finish();
    }
  }

  /** Where the body goes; closing it ends the response. */
  public OutputStream getResponseBody() {
    if (out == null) {
      out = new ResponseBody();
    }
    return out;
  }

  /**
   * Ends the exchange: the response is completed if it was begun, the connection kept for the
   * next request when both sides want that, else closed. A handler that answered nothing closes
   * the connection.
   */
  public void close() {
    if (responseCode == -1) {
      channel.close();
      return;
    }
    try {
      finish();
    } catch (IOException e) {
      channel.close();
    }
  }

  boolean keepsConnection() {
    return keepAlive && responseCode != -1;
  }

  private void finish() throws IOException {
    if (finished) {
      return;
    }
    finished = true;
    if (out != null) {
      out.flushPending();
    }
    ChannelFuture last = channel.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
    if (!keepAlive) {
      last.addListener(f -> channel.close());
    }
    await(last);
  }

  private void await(ChannelFuture write) throws IOException {
    if (!write.awaitUninterruptibly(WRITE_TIMEOUT.toMillis())) {
      channel.close();
      throw new IOException("the client read nothing for " + WRITE_TIMEOUT.toSeconds() + " s");
    }
    if (!write.isSuccess()) {
      throw new IOException("the client went away: " + write.cause().getMessage(), write.cause());
    }
  }

  /** The body as the handler writes it: buffered until flushed, then sent as one chunk. */
  private final class ResponseBody extends OutputStream {
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    @Override
    public void write(int b) {
      pending.write(b);
    }

    @Override
    public void write(byte[] bytes, int offset, int length) {
      pending.write(bytes, offset, length);
    }

    @Override
    public void flush() throws IOException {
      if (responseCode == -1) {
        throw new IOException("the response headers were not sent");
      }
      flushPending();
    }

    void flushPending() throws IOException {
      if (pending.size() == 0) {
        return;
      }
      if (!bodyExpected) {
        throw new IOException("the response was declared without a body");
      }
      byte[] bytes = pending.toByteArray();
      pending.reset();
      await(channel.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(bytes))));
    }

    @Override
    public void close() throws IOException {
      finish();
    }
  }
}
