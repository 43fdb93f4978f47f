package org.servicefarm.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The HTTP endpoint against slow, large and ordinary clients. */
class HttpEndpointTest {
  private HttpEndpoint endpoint;
  private final List<Socket> sockets = new ArrayList<>();
  private final HttpClient http = HttpClient.newBuilder()
      .connectTimeout(Duration.ofSeconds(5)).build();

  @AfterEach
  void stop() throws IOException {
    for (Socket s : sockets) {
      s.close();
    }
    if (endpoint != null) {
      endpoint.close();
    }
  }

  private static void text(WebExchange exchange, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "text/plain");
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  private HttpEndpoint start(HttpEndpoint.Limits limits) throws IOException {
    endpoint = HttpEndpoint.start("test-http", new InetSocketAddress("127.0.0.1", 0), limits,
        Optional.empty(), Map.of(
            "/healthz", exchange -> text(exchange, 200, "ok\n"),
            "/", exchange -> text(exchange, 200, "page " + exchange.getRequestURI().getPath()),
            "/stream", exchange -> {
              exchange.sendResponseHeaders(200, 0);
              OutputStream out = exchange.getResponseBody();
              for (int i = 0; i < 3; i++) {
                out.write(("data: " + i + "\n\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
              }
              out.close();
            }));
    return endpoint;
  }

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
        + endpoint.address().getPort() + path)).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void routesByLongestPrefixAndStreamsChunkedBodies() throws Exception {
    start(HttpEndpoint.Limits.defaults());
    assertEquals("ok\n", get("/healthz").body());
    assertEquals("page /dashboard.js", get("/dashboard.js").body());
    assertEquals("data: 0\n\ndata: 1\n\ndata: 2\n\n", get("/stream").body());
  }

  @Test
  void aThousandSlowClientsHoldingConnectionsDoNotDelayAHealthCheck() throws Exception {
    start(new HttpEndpoint.Limits(4096, 64 * 1024, Duration.ofSeconds(2), Duration.ofSeconds(60),
        4, 256));
    for (int i = 0; i < 1000; i++) {
      Socket s = new Socket("127.0.0.1", endpoint.address().getPort());
      s.getOutputStream().write('G'); // one byte of a request that never comes
      sockets.add(s);
    }
    long started = System.nanoTime();
    HttpResponse<String> health = get("/healthz");
    long millis = (System.nanoTime() - started) / 1_000_000;
    System.out.println("health check answered in " + millis + " ms beside 1000 slow clients");
    assertEquals(200, health.statusCode());
    // And the slow clients are let go once their request deadline passes.
    Socket first = sockets.get(0);
    first.setSoTimeout(10_000);
    assertEquals(-1, first.getInputStream().read(), "a request that never completes is closed");
  }

  @Test
  void aRequestLargerThanTheBoundIsRefused() throws Exception {
    start(HttpEndpoint.Limits.defaults());
    HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(
        "http://127.0.0.1:" + endpoint.address().getPort() + "/login"))
        .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[200 * 1024]))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(413, response.statusCode());
  }

  @Test
  void connectionsBeyondTheBoundAreClosedAtOnce() throws Exception {
    start(new HttpEndpoint.Limits(2, 64 * 1024, Duration.ofSeconds(10), Duration.ofSeconds(60),
        4, 256));
    for (int i = 0; i < 2; i++) {
      sockets.add(new Socket("127.0.0.1", endpoint.address().getPort()));
    }
    Socket third = new Socket("127.0.0.1", endpoint.address().getPort());
    sockets.add(third);
    third.setSoTimeout(5_000);
    InputStream in = third.getInputStream();
    assertEquals(-1, in.read(), "the connection over the bound is closed");
    assertTrue(sockets.get(0).isConnected());
  }

  @Test
  void pipelinedRequestsAreAnsweredInOrderOnOneConnection() throws Exception {
    start(HttpEndpoint.Limits.defaults());
    Socket s = new Socket("127.0.0.1", endpoint.address().getPort());
    sockets.add(s);
    s.getOutputStream().write(("GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
        + "GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .getBytes(StandardCharsets.US_ASCII));
    s.setSoTimeout(10_000);
    String both = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
    assertTrue(both.indexOf("page /first") < both.indexOf("page /second")
        && both.contains("page /first"), both);
  }
}
