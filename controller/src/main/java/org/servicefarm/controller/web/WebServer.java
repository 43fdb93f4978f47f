package org.servicefarm.controller.web;

import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.http.HttpEndpoint;
import org.servicefarm.http.WebExchange;
import org.servicefarm.http.WebHandler;

/**
 * The controller's HTTP endpoint beside its gRPC port: what people and scrapers reach with a
 * browser or curl (the dashboard, Prometheus metrics). Each route says who may use it; admin
 * routes go through {@link WebAccess}.
 *
 * <p>It runs on {@link HttpEndpoint}: Netty reads each request whole, within a deadline and a
 * size bound, before one of a few worker threads answers it, and bounds and times out the
 * connections, so slow clients cannot take the port (and with it /healthz) down, and a flood of
 * HTTP requests does not take threads from the gRPC server.
 */
public final class WebServer implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(WebServer.class.getName());

  /** Who may use a route. */
  public enum Access {
    /** Anyone who reaches the port (health and metrics scrapers). */
    PUBLIC,
    /** Callers presenting a live admin token (header or the dashboard's cookie). */
    ADMIN
  }

  private final HttpEndpoint endpoint;
  private final WebAccess access;

  private WebServer(HttpEndpoint endpoint, WebAccess access) {
    this.endpoint = endpoint;
    this.access = access;
  }

  /**
   * Serves plain HTTP on {@code address} (port 0 picks a free one).
   *
   * @throws IOException naming the address when it cannot be bound
   */
  public static WebServer start(InetSocketAddress address, WebAccess access) throws IOException {
    return start(address, access, Optional.empty());
  }

  /**
   * Serves HTTPS with {@code tls} when given (the controller's certificate), else plain HTTP.
   *
   * @throws IOException naming the address when it cannot be bound
   */
  public static WebServer start(InetSocketAddress address, WebAccess access,
      Optional<SslContext> tls) throws IOException {
    return new WebServer(HttpEndpoint.start("web", address, HttpEndpoint.Limits.defaults(), tls,
        Map.of()), access);
  }

  /** Who decides the admin routes, for pages that sign callers in or send them to a sign-in. */
  public WebAccess access() {
    return access;
  }

  /** Where it listens (with the port chosen when 0 was asked for). */
  public InetSocketAddress address() {
    return endpoint.address();
  }

  /**
   * Serves {@code handler} for {@code path} and everything below it, to the callers {@code
   * who} admits. A handler that throws answers 500 with the message; nothing is left hanging.
   */
  public void route(String path, Access who, WebHandler handler) {
    endpoint.route(path, exchange -> {
      try {
        if (who == Access.ADMIN && !access.admit(exchange)) {
          return;
        }
        handler.handle(exchange);
      } catch (IOException | RuntimeException e) {
        LOG.log(Level.WARNING, "HTTP " + exchange.getRequestMethod() + " "
            + exchange.getRequestURI().getPath() + " failed", e);
        respondIfUnanswered(exchange, e);
      }
    });
  }

  // After the response headers went out there is nothing left to tell the caller but a closed
  // connection; before, the failure becomes a 500 the caller can read.
  private static void respondIfUnanswered(WebExchange exchange, Exception e) {
    if (exchange.getResponseCode() != -1) {
      return;
    }
    try {
      sendText(exchange, 500, "internal error: " + e.getMessage() + "\n");
    } catch (IOException unwritable) {
      LOG.fine("could not answer a failed HTTP call: " + unwritable.getMessage());
    }
  }

  /** Answers with a UTF-8 text body. */
  public static void sendText(WebExchange exchange, int status, String body) throws IOException {
    send(exchange, status, "text/plain; charset=utf-8", body);
  }

  /** Answers with a UTF-8 body of the given content type. */
  public static void send(WebExchange exchange, int status, String contentType, String body)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", contentType);
    exchange.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
    exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
    if (bytes.length > 0) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(bytes);
      }
    }
  }

  @Override
  public void close() {
    endpoint.close();
  }
}
