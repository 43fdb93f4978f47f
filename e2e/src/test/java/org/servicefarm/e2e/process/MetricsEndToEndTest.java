package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.PrometheusText;

/**
 * What a Prometheus beside a real farm scrapes after a request: the controller's calls and
 * gauges, the agent's command counters, domains and connection, and both health endpoints. Real
 * processes; the agent on libvirt's test driver.
 */
class MetricsEndToEndTest {
  private final HttpClient http = HttpClient.newBuilder()
      .connectTimeout(Duration.ofSeconds(5)).build();

  @Test
  void controllerAndAgentMetricsAndHealthTellOfARequest() throws Exception {
    try (ProcessFarm farm = new ProcessFarm("test:///default")) {
      farm.startController();
      farm.startAgent("metrics-1");
      farm.awaitConnected(List.of("metrics-1"));
      farm.client().defineService(ServiceDefinition.newBuilder().setName("scraped")
          .addPackages("busybox").setPort(80).setVcpus(1).setMemoryMb(64).build());
      ServiceAccess access = farm.client().requestService("scraped");
      assertTrue(access.created());
      String agent = farm.agentHttpBase("metrics-1");
      String token = Files.readString(farm.adminTokenFile()).strip();

      // The agent's figures are read at scrape time, its connection after registration.
      farm.awaitTrue("the agent's /healthz answers 200", Duration.ofSeconds(30),
          () -> get(agent + "/healthz", null).statusCode() == 200);
      HttpResponse<String> agentHealth = get(agent + "/healthz", null);
      assertTrue(agentHealth.body().contains("controller: connected"), agentHealth.body());
      assertTrue(agentHealth.body().contains("libvirt: answers"), agentHealth.body());

      PrometheusText agentMetrics = PrometheusText.parse(get(agent + "/metrics", null).body());
      String commands = "servicefarm_agent_command_duration_seconds_count";
      assertEquals(1, agentMetrics.value(commands, "kind", "install", "outcome", "ok"),
          agentMetrics.samples().toString());
      assertEquals(1, agentMetrics.value(commands, "kind", "start", "outcome", "ok"));
      assertEquals(1, agentMetrics.value("servicefarm_agent_domains", "state", "running"));
      assertEquals(1, agentMetrics.value("servicefarm_agent_controller_connected"));
      assertEquals(1, agentMetrics.value("servicefarm_agent_libvirt_up"));
      assertTrue(agentMetrics.has("servicefarm_agent_image_cache_hits_total"));

      HttpResponse<String> refused = get(farm.httpBase() + "/metrics", null);
      assertEquals(401, refused.statusCode());
      PrometheusText controllerMetrics =
          PrometheusText.parse(get(farm.httpBase() + "/metrics", token).body());
      assertEquals(1, controllerMetrics.value("servicefarm_grpc_server_handling_seconds_count",
          "method", "servicefarm.v1.ServiceBroker/RequestService", "code", "OK"));
      assertEquals(0, controllerMetrics.value("servicefarm_grpc_server_handling_seconds_count",
          "method", "servicefarm.v1.AgentControl/Connect", "code", "OK"),
          "the agent's stream is still open, so it is not counted yet");
      assertEquals(1, controllerMetrics.value("servicefarm_vms", "state", "ACTIVE"));
      assertEquals(1, controllerMetrics.value("servicefarm_controller_connected_agents"));
      HttpResponse<String> controllerHealth = get(farm.httpBase() + "/healthz", null);
      assertEquals(200, controllerHealth.statusCode());
      assertTrue(controllerHealth.body().contains("serving, leading, 1 agent connected"),
          controllerHealth.body());
    }
  }

  private HttpResponse<String> get(String url, String token) {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url))
        .timeout(Duration.ofSeconds(10));
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    try {
      return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    } catch (java.io.IOException e) {
      throw new AssertionError("GET " + url + " failed: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted: GET " + url, e);
    }
  }
}
