package org.servicefarm.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class HttpPathsTest {

  @Test
  void theHostHeaderIsFoundWhateverItsCase() {
    assertEquals(Optional.of("static-web.localhost:8080"), HttpHead.hostHeader(
        "GET / HTTP/1.1\r\nUser-Agent: curl\r\nhOsT:  static-web.localhost:8080 \r\n"));
    assertEquals(Optional.empty(), HttpHead.hostHeader("GET / HTTP/1.0\r\nAccept: */*\r\n"));
  }

  @Test
  void theFirstResponseNamesThePathAfterItsStatusLineEvenWhenSplit() {
    AtomicInteger firstBytes = new AtomicInteger();
    EmbeddedChannel channel = new EmbeddedChannel(
        new FirstResponse(firstBytes::incrementAndGet, "path=woke; held-ms=12.0"));
    channel.writeInbound(bytes("HTTP/1.1 200 O"));
    channel.writeInbound(bytes("K\r\nContent-Length: 2\r\n\r\nhi"));
    channel.writeInbound(bytes("HTTP/1.1 200 OK\r\n"));

    assertEquals("HTTP/1.1 200 OK\r\nServicefarm-Gateway: path=woke; held-ms=12.0\r\n"
        + "Content-Length: 2\r\n\r\nhi", text(channel.readInbound()));
    assertEquals("HTTP/1.1 200 OK\r\n", text(channel.readInbound()), "only the first response");
    assertEquals(1, firstBytes.get());
  }

  @Test
  void bytesThatAreNotHttpPassUnchanged() {
    EmbeddedChannel channel = new EmbeddedChannel(new FirstResponse(() -> { }, null));
    channel.writeInbound(bytes("+PONG\r\n"));
    assertEquals("+PONG\r\n", text(channel.readInbound()));
  }

  private static ByteBuf bytes(String s) {
    return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
  }

  private static String text(Object msg) {
    ByteBuf b = (ByteBuf) msg;
    try {
      return b.toString(StandardCharsets.US_ASCII);
    } finally {
      b.release();
    }
  }
}
