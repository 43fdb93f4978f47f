package org.servicefarm.gateway;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives a connection up: logged and counted with its reason; an HTTP client gets a short answer
 * whose status and body say why (404 for an unknown service, 503 naming the service and the
 * reason otherwise); a TCP client's connection is closed, since TCP has no way to say why.
 */
final class Refusals {
  private static final Logger log = LoggerFactory.getLogger(Refusals.class);
  private final GatewayMetrics metrics;

  Refusals(GatewayMetrics metrics) {
    this.metrics = metrics;
  }

  void refuse(Channel client, String serviceLabel, Refusal.Reason why, boolean http) {
    metrics.refused(serviceLabel, why.refusal());
    log.info("refused {} from {}: {} ({})", serviceLabel, client.remoteAddress(),
        why.refusal().label(), why.message());
    if (!http) {
      client.close();
      return;
    }
    int status = why.refusal().httpStatus();
    byte[] body = (why.message() + "\n").getBytes(StandardCharsets.UTF_8);
    String head = "HTTP/1.1 " + status + " " + reasonPhrase(status) + "\r\n"
        + "Content-Type: text/plain; charset=utf-8\r\n"
        + "Content-Length: " + body.length + "\r\n"
        + "Connection: close\r\n"
        + FirstResponse.HEADER + ": refused=" + why.refusal().label() + "\r\n\r\n";
    ByteBuf out = client.alloc().buffer(head.length() + body.length);
    out.writeCharSequence(head, StandardCharsets.US_ASCII);
    out.writeBytes(body);
    client.writeAndFlush(out).addListener(ChannelFutureListener.CLOSE);
  }

  private static String reasonPhrase(int status) {
    return switch (status) {
      case 400 -> "Bad Request";
      case 404 -> "Not Found";
      case 408 -> "Request Timeout";
      case 431 -> "Request Header Fields Too Large";
      case 502 -> "Bad Gateway";
      default -> "Service Unavailable";
    };
  }
}
