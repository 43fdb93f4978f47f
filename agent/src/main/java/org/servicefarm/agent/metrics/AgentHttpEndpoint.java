package org.servicefarm.agent.metrics;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.servicefarm.http.HttpEndpoint;
import org.servicefarm.http.WebExchange;
import org.servicefarm.http.WebHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's small plaintext HTTP endpoint (--metrics-listen): {@code /metrics} for Prometheus
 * and {@code /healthz}, 200 while the agent is connected to a controller and libvirt answers,
 * else 503, the body saying which. Neither needs a token: the agent holds none to check against,
 * so the endpoint stays on loopback unless --insecure says otherwise; it names no VM.
 */
public final class AgentHttpEndpoint implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AgentHttpEndpoint.class);

  private final HttpEndpoint endpoint;

  private AgentHttpEndpoint(HttpEndpoint endpoint) {
    this.endpoint = endpoint;
  }

  /**
   * Serves on {@code address} (port 0 picks a free one).
   *
   * @throws IOException naming the address when it cannot be bound
   */
  public static AgentHttpEndpoint start(InetSocketAddress address, AgentMetrics metrics,
      BooleanSupplier controllerConnected, Supplier<Optional<String>> libvirtProblem)
      throws IOException {
    // Two workers: scrapes and health checks are few, and must not take threads from commands;
    // slow clients wait on the event loop, not on them.
    HttpEndpoint.Limits defaults = HttpEndpoint.Limits.defaults();
    HttpEndpoint.Limits limits = new HttpEndpoint.Limits(defaults.maxConnections(),
        defaults.maxRequestBytes(), defaults.requestTimeout(), defaults.idleTimeout(), 2,
        defaults.queuedRequests());
    HttpEndpoint endpoint = HttpEndpoint.start("metrics-http", address, limits,
        Optional.empty(), Map.of(
        "/metrics", guarded("/metrics", exchange -> {
          ByteArrayOutputStream body = new ByteArrayOutputStream(8 * 1024);
          metrics.write(body);
          send(exchange, 200, metrics.contentType(), body.toByteArray());
        }),
        "/healthz", guarded("/healthz", exchange -> {
          boolean connected = controllerConnected.getAsBoolean();
          Optional<String> libvirt = libvirtProblem.get();
          String body = (connected ? "controller: connected" : "controller: not connected")
              + "\n" + libvirt.map(why -> "libvirt: does not answer: " + why)
                  .orElse("libvirt: answers") + "\n";
          send(exchange, connected && libvirt.isEmpty() ? 200 : 503,
              "text/plain; charset=utf-8", body.getBytes(StandardCharsets.UTF_8));
        })));
    return new AgentHttpEndpoint(endpoint);
  }

  /** Where it listens, with the port chosen when 0 was asked for. */
  public InetSocketAddress address() {
    return endpoint.address();
  }

  private static WebHandler guarded(String path, WebHandler handler) {
    return exchange -> {
      try {
        handler.handle(exchange);
      } catch (IOException | RuntimeException e) {
        log.warn("HTTP {} failed", path, e);
        if (exchange.getResponseCode() == -1) {
          send(exchange, 500, "text/plain; charset=utf-8",
              ("internal error: " + e.getMessage() + "\n").getBytes(StandardCharsets.UTF_8));
        }
      }
    };
  }

  private static void send(WebExchange exchange, int status, String contentType, byte[] body)
      throws IOException {
    exchange.getResponseHeaders().set("Content-Type", contentType);
    exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    if (body.length > 0) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }
  }

  @Override
  public void close() {
    endpoint.close();
  }
}
