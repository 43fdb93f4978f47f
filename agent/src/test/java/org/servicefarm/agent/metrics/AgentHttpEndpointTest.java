package org.servicefarm.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class AgentHttpEndpointTest {
  private final AtomicBoolean connected = new AtomicBoolean();
  private final AtomicReference<Optional<String>> libvirtProblem =
      new AtomicReference<>(Optional.empty());
  private final AgentMetrics metrics = new AgentMetrics();
  private final HttpClient http = HttpClient.newHttpClient();
  private AgentHttpEndpoint endpoint;

  @BeforeEach
  void start() throws Exception {
    endpoint = AgentHttpEndpoint.start(new InetSocketAddress("127.0.0.1", 0), metrics,
        connected::get, libvirtProblem::get);
  }

  @AfterEach
  void stop() {
    endpoint.close();
  }

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
        + endpoint.address().getPort() + path)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void healthzIsOkOnlyWhenConnectedAndLibvirtAnswersAndSaysWhichIsWrong() throws Exception {
    HttpResponse<String> disconnected = get("/healthz");
    assertEquals(503, disconnected.statusCode());
    assertTrue(disconnected.body().contains("controller: not connected"), disconnected.body());

    connected.set(true);
    libvirtProblem.set(Optional.of("Failed to connect socket"));
    HttpResponse<String> noLibvirt = get("/healthz");
    assertEquals(503, noLibvirt.statusCode());
    assertTrue(noLibvirt.body().contains("libvirt: does not answer: Failed to connect socket"),
        noLibvirt.body());

    libvirtProblem.set(Optional.empty());
    assertEquals(200, get("/healthz").statusCode());
  }

  @Test
  void metricsCountFinishedCommandsByKindAndOutcome() throws Exception {
    metrics.finished("start", "ok", 2_000_000);
    metrics.finished("start", "ok", 3_000_000);
    metrics.finished("install", "image", 1_000_000_000);

    HttpResponse<String> scrape = get("/metrics");
    assertEquals(200, scrape.statusCode());
    assertTrue(scrape.headers().firstValue("Content-Type").orElse("").contains("version=0.0.4"));
    String body = scrape.body();
    assertTrue(body.contains(
        "servicefarm_agent_command_duration_seconds_count{kind=\"start\",outcome=\"ok\"} 2"),
        body);
    assertTrue(body.contains("servicefarm_agent_command_duration_seconds_count"
        + "{kind=\"install\",outcome=\"image\"} 1"), body);
  }
}
