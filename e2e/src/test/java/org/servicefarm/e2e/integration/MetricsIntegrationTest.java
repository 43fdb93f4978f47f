package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.PermissionDeniedException;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.web.WebAccess;
import org.servicefarm.controller.web.WebServer;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;
import org.servicefarm.e2e.support.PrometheusText;

/**
 * The controller's /metrics and health as an operator sees them: calls made through the API show
 * up in the scrape by method and code, the VM gauges match the VM table, histograms are
 * well-formed, and the broker is reported unable to serve until an agent connects. In-process
 * farm on a real PostgreSQL, agents on libvirt's test driver.
 */
class MetricsIntegrationTest {
  private static final String REQUEST_SERVICE = "servicefarm.v1.ServiceBroker/RequestService";
  private static final String CALLS = "servicefarm_grpc_server_handling_seconds";

  private InProcessFarm farm;
  private WebServer web;
  private String adminToken;
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    web = WebServer.start(new InetSocketAddress("127.0.0.1", 0),
        WebAccess.tokens(farm.controller().tokens().verifier()::verify));
    farm.controller().serveWeb(web);
    adminToken = Files.readString(farm.adminTokenFile()).strip();
  }

  @AfterEach
  void stop() throws Exception {
    web.close();
    farm.close();
  }

  private HttpResponse<String> get(String path, String token) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + web.address().getPort() + path));
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private PrometheusText scrape() throws Exception {
    HttpResponse<String> response = get("/metrics", adminToken);
    assertEquals(200, response.statusCode(), response.body());
    assertTrue(response.headers().firstValue("Content-Type").orElse("")
        .startsWith("text/plain; version=0.0.4"), response.headers().toString());
    return PrometheusText.parse(response.body());
  }

  @Test
  void callsShowInTheScrapeByMethodAndCodeAndTheVmGaugesMatchTheTable() throws Exception {
    assertEquals(401, get("/metrics", null).statusCode(), "metrics name services and hosts");
    farm.addHost("sim-1", 4, 4096);
    farm.awaitConnected(List.of("sim-1"));
    FarmClient client = farm.client();
    client.defineService(ServiceDefinition.newBuilder().setName("metered").addPackages("busybox")
        .setPort(80).setVcpus(1).setMemoryMb(256).build());
    // Keyed, so it is recorded as an operation; it provisions the VM the later calls find.
    assertTrue(client.requestService("metered", "first-call").created());

    PrometheusText before = scrape();
    int calls = 7;
    for (int i = 0; i < calls; i++) {
      client.requestService("metered");
    }
    try (FarmClient anonymous = farm.clientWithToken(null)) {
      assertThrows(PermissionDeniedException.class, () -> anonymous.requestService("metered"));
    }
    PrometheusText after = scrape();

    assertEquals(calls, after.value(CALLS + "_count", "method", REQUEST_SERVICE, "code", "OK")
        - before.value(CALLS + "_count", "method", REQUEST_SERVICE, "code", "OK"));
    assertEquals(1, after.value(CALLS + "_count", "method", REQUEST_SERVICE,
        "code", "UNAUTHENTICATED") - before.value(CALLS + "_count", "method", REQUEST_SERVICE,
        "code", "UNAUTHENTICATED"), "a refused call is counted with the code the caller saw");
    assertEquals(1, after.value("servicefarm_operation_duration_seconds_count",
        "kind", "provision", "outcome", "OK"));
    assertEquals(1, after.value("servicefarm_controller_leader"));
    assertEquals(1, after.value("servicefarm_controller_connected_agents"));
    assertEquals(1, after.value("servicefarm_database_up"));
    assertEquals(1, after.value("servicefarm_hosts", "status", "UP"));
    assertTrue(after.value("servicefarm_controller_uptime_seconds") > 0);
    assertEquals(vmTable(), after.byLabel("servicefarm_vms", "state").entrySet().stream()
        .filter(e -> e.getValue() > 0)
        .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().longValue(),
            (a, b) -> a, TreeMap::new)));
    assertEquals(VmState.values().length, after.byLabel("servicefarm_vms", "state").size(),
        "every state is reported, 0 when empty, so a series does not vanish");
    assertHistogramsAreCumulative(after);
  }

  @Test
  void brokerIsNotServingWhileTheLeaderHasNoAgentAndServingOnceOneConnects() throws Exception {
    HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(farm.channel());
    Await.until("this controller leads", Duration.ofSeconds(30),
        () -> farm.controller().leadership().isLeader());
    Await.until("the broker reported NOT_SERVING", Duration.ofSeconds(10),
        () -> status(health, "servicefarm.v1.ServiceBroker") == ServingStatus.NOT_SERVING);
    assertEquals(ServingStatus.SERVING, status(health, ""));
    assertEquals(ServingStatus.SERVING, status(health, "servicefarm.v1.FarmAdmin"));
    HttpResponse<String> healthz = get("/healthz", null);
    assertEquals(200, healthz.statusCode());
    assertTrue(healthz.body().contains("no agent is connected"), healthz.body());

    farm.addHost("sim-1", 4, 4096);
    farm.awaitConnected(List.of("sim-1"));
    Await.until("the broker reported SERVING", Duration.ofSeconds(10),
        () -> status(health, "servicefarm.v1.ServiceBroker") == ServingStatus.SERVING);
    assertTrue(get("/healthz", null).body().contains("serving, leading, 1 agent connected"));
  }

  private static ServingStatus status(HealthGrpc.HealthBlockingStub health, String service) {
    return health.check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus();
  }

  private Map<String, Long> vmTable() {
    return new TreeMap<>(farm.db().query("SELECT state, count(*) AS n FROM vms GROUP BY state",
            rs -> Map.entry(rs.getString("state"), rs.getLong("n"))).stream()
        .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue)));
  }

  /** Each histogram series: buckets never fall as le grows, and +Inf equals _count. */
  private static void assertHistogramsAreCumulative(PrometheusText scrape) {
    Map<String, List<PrometheusText.Sample>> series = new TreeMap<>();
    for (PrometheusText.Sample s : scrape.samples()) {
      if (s.name().endsWith("_bucket")) {
        Map<String, String> labels = new TreeMap<>(s.labels());
        labels.remove("le");
        series.computeIfAbsent(s.name() + labels, k -> new ArrayList<>()).add(s);
      }
    }
    assertFalse(series.isEmpty(), "no histogram in the scrape");
    for (Map.Entry<String, List<PrometheusText.Sample>> e : series.entrySet()) {
      List<PrometheusText.Sample> buckets = new ArrayList<>(e.getValue());
      buckets.sort((a, b) -> Double.compare(le(a), le(b)));
      for (int i = 1; i < buckets.size(); i++) {
        assertTrue(buckets.get(i).value() >= buckets.get(i - 1).value(),
            "bucket counts fall in " + e.getKey() + ": " + buckets);
      }
      PrometheusText.Sample last = buckets.get(buckets.size() - 1);
      assertEquals(Double.POSITIVE_INFINITY, le(last), e.getKey() + " has no +Inf bucket");
      Map<String, String> labels = new TreeMap<>(last.labels());
      labels.remove("le");
      String count = last.name().replaceFirst("_bucket$", "_count");
      assertEquals(last.value(), scrape.samples().stream()
          .filter(s -> s.name().equals(count) && new TreeMap<>(s.labels()).equals(labels))
          .findFirst().orElseThrow().value(), "+Inf bucket and _count differ in " + e.getKey());
    }
  }

  private static double le(PrometheusText.Sample bucket) {
    String le = bucket.labels().get("le");
    return "+Inf".equals(le) ? Double.POSITIVE_INFINITY : Double.parseDouble(le);
  }
}
