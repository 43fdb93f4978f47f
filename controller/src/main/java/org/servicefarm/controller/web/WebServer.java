package org.servicefarm.controller.web;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.net.ssl.SSLContext;

/**
 * The controller's HTTP endpoint beside its gRPC port: what people and scrapers reach with a
 * browser or curl (the dashboard, Prometheus metrics). Each route says who may use it; admin
 * routes go through {@link WebAccess}.
 *
 * <p>It runs on a small fixed pool: the pages are few and cheap, and a flood of HTTP requests
 * must not take threads from the gRPC server.
 */
public final class WebServer implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(WebServer.class.getName());
  private static final int THREADS = 4;

  /** Who may use a route. */
  public enum Access {
    /** Anyone who reaches the port (health and metrics scrapers). */
    PUBLIC,
    /** Callers presenting a live admin token (header or the dashboard's cookie). */
    ADMIN
  }

  private final HttpServer server;
  private final ExecutorService pool;
  private final WebAccess access;

  private WebServer(HttpServer server, ExecutorService pool, WebAccess access) {
    this.server = server;
    this.pool = pool;
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
      Optional<SSLContext> tls) throws IOException {
    HttpServer server;
    try {
      if (tls.isPresent()) {
        HttpsServer https = HttpsServer.create(address, 64);
        https.setHttpsConfigurator(new HttpsConfigurator(tls.get()));
        server = https;
      } else {
        server = HttpServer.create(address, 64);
      }
    } catch (java.net.BindException e) {
      throw new IOException("cannot serve HTTP on " + address + ": " + e.getMessage(), e);
    }
    ExecutorService pool = Executors.newFixedThreadPool(THREADS, r -> {
      Thread t = new Thread(r, "web");
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(pool);
    server.start();
    return new WebServer(server, pool, access);
  }

  /** Who decides the admin routes, for pages that sign callers in or send them to a sign-in. */
  public WebAccess access() {
    return access;
  }

  /** Where it listens (with the port chosen when 0 was asked for). */
  public InetSocketAddress address() {
    return server.getAddress();
  }

  /**
   * Serves {@code handler} for {@code path} and everything below it, to the callers {@code
   * who} admits. A handler that throws answers 500 with the message; nothing is left hanging.
   */
  public void route(String path, Access who, HttpHandler handler) {
    server.createContext(path, exchange -> {
      // Not try-with-resources: the exchange must still be open when a failure is answered.
      try {
        if (who == Access.ADMIN && !access.admit(exchange)) {
          return;
        }
        handler.handle(exchange);
      } catch (IOException | RuntimeException e) {
        LOG.log(Level.WARNING, "HTTP " + exchange.getRequestMethod() + " "
            + exchange.getRequestURI().getPath() + " failed", e);
        respondIfUnanswered(exchange, e);
      } finally {
        exchange.close();
      }
    });
  }

  // After the response headers went out there is nothing left to tell the caller but a closed
  // connection; before, the failure becomes a 500 the caller can read.
  private static void respondIfUnanswered(HttpExchange exchange, Exception e) {
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
  public static void sendText(HttpExchange exchange, int status, String body) throws IOException {
    send(exchange, status, "text/plain; charset=utf-8", body);
  }

  /** Answers with a UTF-8 body of the given content type. */
  public static void send(HttpExchange exchange, int status, String contentType, String body)
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
    server.stop(0);
    pool.shutdown();
    try {
      pool.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
