package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.servicefarm.api.v1.HostStatus;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.controller.dashboard.Dashboard;
import org.servicefarm.controller.web.WebAccess;
import org.servicefarm.controller.web.WebServer;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * The dashboard's HTTP side on a farm in this JVM: what /api/summary says matches the farm, who
 * may see it, signing in with the cookie's attributes, the event stream, and that values users
 * chose never come back as markup.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DashboardIntegrationTest {
  private static final String SCRIPT_COMMAND = "busybox httpd -f -p 80 # <script>alert(1)</script>";
  private static InProcessFarm farm;
  private static FarmClient admin;
  private static WebServer web;
  private static String adminToken;
  private static String clientToken;
  private static ServiceAccess served;
  private static final HttpClient http = HttpClient.newBuilder()
      .followRedirects(HttpClient.Redirect.NEVER).build();

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    admin = farm.client();
    farm.addHost("dash-1", 4, 4096);
    farm.awaitConnected(List.of("dash-1"));
    web = WebServer.start(new InetSocketAddress("127.0.0.1", 0),
        WebAccess.tokens(farm.controller().tokens().verifier()::verify));
    farm.controller().serveWeb(web);
    adminToken = Files.readString(farm.adminTokenFile()).strip();
    clientToken = admin.tokens().create("dash-client", "client").getSecret();
    define("dash-web", "busybox httpd -f -p 80");
    define("dash-xss", SCRIPT_COMMAND);
    served = admin.requestService("dash-web");
  }

  @AfterAll
  static void stop() throws Exception {
    if (web != null) {
      web.close();
    }
    if (farm != null) {
      farm.close();
    }
  }

  private static void define(String name, String command) {
    admin.defineService(ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
        .setCommand(command).setPort(80).setVcpus(1).setMemoryMb(256).build());
  }

  private static String base() {
    return "http://127.0.0.1:" + web.address().getPort();
  }

  private static HttpResponse<String> get(String path, String... headers) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base() + path));
    if (headers.length > 0) {
      request.headers(headers);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> post(String path, String form, String... headers)
      throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base() + path))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString(form));
    if (headers.length > 0) {
      request.headers(headers);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonObject summary() throws Exception {
    HttpResponse<String> response = get("/api/summary", "Authorization", "Bearer " + adminToken);
    assertEquals(200, response.statusCode(), response.body());
    return JsonParser.parseString(response.body()).getAsJsonObject();
  }

  private static Optional<JsonObject> find(JsonArray items, String field, String value) {
    for (JsonElement e : items) {
      JsonObject o = e.getAsJsonObject();
      if (!o.get(field).isJsonNull() && o.get(field).getAsString().equals(value)) {
        return Optional.of(o);
      }
    }
    return Optional.empty();
  }

  @Test
  void summaryShowsTheHostTheVmAndTheServicesAsTheFarmHasThem() throws Exception {
    JsonObject summary = summary();
    JsonObject host = find(summary.getAsJsonArray("hosts"), "id", "dash-1").orElseThrow();
    assertEquals("UP", host.get("status").getAsString());
    assertTrue(host.get("connected").getAsBoolean());
    assertEquals(4, host.get("capacityVcpus").getAsInt());
    assertEquals(4096, host.get("capacityMemoryMb").getAsLong());
    assertEquals(1, host.get("usedVcpus").getAsInt());
    assertEquals(256, host.get("usedMemoryMb").getAsLong());
    assertEquals(1, host.get("vmCount").getAsInt());

    List<Vm> vms = admin.listVms();
    long active = vms.stream().filter(v -> v.getState().name().equals("VM_STATE_ACTIVE")).count();
    assertEquals(active, summary.getAsJsonObject("vmStates").get("ACTIVE").getAsLong());
    JsonObject vm = find(summary.getAsJsonArray("vms"), "id", served.vmId()).orElseThrow();
    assertEquals("dash-web", vm.get("service").getAsString());
    assertEquals("ACTIVE", vm.get("state").getAsString());
    assertEquals("dash-1", vm.get("host").getAsString());
    assertEquals(served.endpoint(), vm.get("endpoint").getAsString());

    JsonObject web = find(summary.getAsJsonArray("services"), "name", "dash-web").orElseThrow();
    assertEquals(1, web.get("vms").getAsInt());
    assertEquals("dash-web:80", web.getAsJsonArray("offers").get(0).getAsString());
    assertEquals("dash-web " + served.gatewayAddress(),
        web.getAsJsonArray("gateways").get(0).getAsString(), "the service's gateway address");
    JsonObject unused = find(summary.getAsJsonArray("services"), "name", "dash-xss").orElseThrow();
    assertEquals(0, unused.get("vms").getAsInt());
    assertTrue(find(summary.getAsJsonArray("events"), "vmId", served.vmId()).isPresent(),
        "the VM's transitions are among the recent events");

    // Who did it: the admin token defined the service and its request created the VM.
    String adminName = admin.tokens().list().stream().filter(t -> t.getRole().equals("admin"))
        .findFirst().orElseThrow().getName();
    List<String> onWeb = new java.util.ArrayList<>();
    for (var element : summary.getAsJsonArray("audit")) {
      JsonObject record = element.getAsJsonObject();
      if (record.get("target").getAsString().equals("dash-web")) {
        assertEquals(adminName, record.get("caller").getAsString(), record.toString());
        assertEquals("OK", record.get("outcome").getAsString(), record.toString());
        onWeb.add(record.get("method").getAsString());
      }
    }
    assertEquals(List.of("servicefarm.v1.ServiceBroker/RequestService",
        "servicefarm.v1.FarmAdmin/DefineService"), onWeb, "newest first");
  }

  @Test
  void everyRouteOfTheFarmRefusesMissingAndClientTokens() throws Exception {
    for (String path : List.of("/api/summary", "/api/events", "/dashboard.js", "/common.js",
        "/plots.js", "/vm.js", "/host.js", "/vendor/uPlot.iife.min.js", "/api/history",
        "/api/vm/" + served.vmId(), "/api/host/dash-1", "/api/actions/host/dash-1/drain")) {
      assertEquals(401, get(path).statusCode(), path);
      HttpResponse<String> client = get(path, "Authorization", "Bearer " + clientToken);
      assertEquals(403, client.statusCode(), path);
      assertTrue(client.body().contains("role client"), client.body());
    }
    HttpResponse<String> page = get("/");
    assertEquals(303, page.statusCode(), "a browser that is not signed in is sent to sign in");
    assertEquals("/login", page.headers().firstValue("Location").orElseThrow());
    HttpResponse<String> clientPage = get("/", "Cookie", WebAccess.COOKIE + "=" + clientToken);
    assertEquals(303, clientPage.statusCode(), "a client token does not open the dashboard");
    assertEquals(404, get("/no-such-page", "Authorization", "Bearer " + adminToken).statusCode());
  }

  @Test
  void signingInSetsAStrictHttpOnlyCookieThatOpensThePage() throws Exception {
    HttpResponse<String> form = get("/login");
    assertEquals(200, form.statusCode());
    assertTrue(form.body().contains("name=\"token\""), form.body());

    HttpResponse<String> signedIn = post("/login", "token=" + adminToken, "Origin", base());
    assertEquals(303, signedIn.statusCode(), signedIn.body());
    assertEquals("/", signedIn.headers().firstValue("Location").orElseThrow());
    String cookie = signedIn.headers().firstValue("Set-Cookie").orElseThrow();
    assertTrue(cookie.startsWith(WebAccess.COOKIE + "=" + adminToken + ";"), cookie);
    for (String attribute : List.of("HttpOnly", "SameSite=Strict", "Path=/")) {
      assertTrue(cookie.contains(attribute), cookie + " lacks " + attribute);
    }
    assertFalse(cookie.contains("Secure"), "plain HTTP cannot keep a Secure cookie: " + cookie);

    HttpResponse<String> page = get("/", "Cookie", WebAccess.COOKIE + "=" + adminToken);
    assertEquals(200, page.statusCode());
    assertTrue(page.body().contains("<script src=\"/dashboard.js\""), page.body());
    assertEquals("DENY", page.headers().firstValue("X-Frame-Options").orElseThrow());
    String policy = page.headers().firstValue("Content-Security-Policy").orElseThrow();
    assertTrue(policy.contains("default-src 'self'") && !policy.contains("unsafe-inline"), policy);

    HttpResponse<String> signedOut = post("/logout", "", "Origin", base(),
        "Cookie", WebAccess.COOKIE + "=" + adminToken);
    assertEquals(303, signedOut.statusCode());
    assertTrue(signedOut.headers().firstValue("Set-Cookie").orElseThrow().contains("Max-Age=0"));
  }

  @Test
  void signingInRefusesClientTokensAndOtherSitesForms() throws Exception {
    HttpResponse<String> client = post("/login", "token=" + clientToken, "Origin", base());
    assertEquals(401, client.statusCode());
    assertTrue(client.body().contains("role client"), client.body());
    assertTrue(client.headers().firstValue("Set-Cookie").isEmpty());

    HttpResponse<String> junk = post("/login", "token=%3Cscript%3E");
    assertEquals(400, junk.statusCode());
    assertFalse(junk.body().contains("<script>"), "what was typed is not echoed as markup");

    HttpResponse<String> crossSite =
        post("/login", "token=" + adminToken, "Origin", "https://evil.example");
    assertEquals(403, crossSite.statusCode());
    assertTrue(crossSite.body().contains("evil.example"), crossSite.body());
    assertTrue(crossSite.headers().firstValue("Set-Cookie").isEmpty());
    HttpResponse<String> crossReferer = post("/logout", "", "Referer", "https://evil.example/x");
    assertEquals(403, crossReferer.statusCode());
  }

  @Test
  void userTextComesBackJsonEscapedAndTheScriptBuildsTextNodes() throws Exception {
    HttpResponse<String> response = get("/api/summary", "Authorization", "Bearer " + adminToken);
    assertEquals("no-store", response.headers().firstValue("Cache-Control").orElseThrow());
    assertTrue(response.headers().firstValue("Content-Type").orElseThrow()
        .startsWith("application/json"));
    assertFalse(response.body().contains("<script>"), "markup in a command stays escaped");
    assertTrue(response.body().contains("\\u003cscript\\u003e"), response.body());
    JsonObject xss = find(summary().getAsJsonArray("services"), "name", "dash-xss").orElseThrow();
    assertEquals(SCRIPT_COMMAND, xss.get("command").getAsString(), "and reads back unchanged");

    for (String name : List.of("dashboard.js", "common.js", "plots.js", "vm.js", "host.js",
        "vendor/uPlot.iife.min.js")) {
      String script = resource(name);
      for (String sink : List.of("innerHTML", "outerHTML", "insertAdjacentHTML",
          "document.write")) {
        assertFalse(script.contains(sink), name + " must put values in as text, not " + sink);
      }
    }
    assertTrue(resource("common.js").contains("textContent"));
    for (String name : List.of("index.html", "vm.html", "host.html")) {
      assertFalse(resource(name).matches("(?s).*<script(?![^>]*\\bsrc=).*"),
          "no inline script in " + name);
    }
  }

  @Test
  void actionsNeedThisServersPageAndJsonAndAreAuditedAsTheSignedInToken() throws Exception {
    // A host of its own: draining dash-1 would move the VM the other tests look at.
    farm.addHost("dash-idle", 2, 2048);
    farm.awaitConnected(List.of("dash-idle"));
    String drain = "/api/actions/host/dash-idle/drain";
    String cookie = WebAccess.COOKIE + "=" + adminToken;
    HttpResponse<String> crossSite = postJson(drain, "{}", "Cookie", cookie,
        "Origin", "http://evil.example");
    assertEquals(403, crossSite.statusCode(), crossSite.body());
    assertTrue(crossSite.body().contains("evil.example"), crossSite.body());
    HttpResponse<String> form = post(drain, "force=true", "Cookie", cookie, "Origin", base());
    assertEquals(415, form.statusCode(), "a form another site could post: " + form.body());
    HttpResponse<String> client = postJson(drain, "{}", "Cookie", WebAccess.COOKIE + "="
        + clientToken, "Origin", base());
    assertEquals(403, client.statusCode(), client.body());
    assertEquals(405, get(drain, "Authorization", "Bearer " + adminToken).statusCode());
    assertEquals(HostStatus.HOST_STATUS_UP, hostStatus("dash-idle"), "no refused call drained it");

    HttpResponse<String> drained = postJson(drain, "{}", "Cookie", cookie, "Origin", base());
    assertEquals(200, drained.statusCode(), drained.body());
    assertEquals("host dash-idle is DRAINING", JsonParser.parseString(drained.body())
        .getAsJsonObject().get("message").getAsString());
    assertEquals(HostStatus.HOST_STATUS_DRAINING, hostStatus("dash-idle"));
    var record = admin.audit().list(null, "dash-idle", 0, 100).stream()
        .filter(r -> r.getMethod().endsWith("/DrainHost")).findFirst().orElseThrow();
    assertEquals("bootstrap-admin", record.getCaller(), record.toString());
    assertTrue(record.getPeer().startsWith("127.0.0.1:"), "the browser's address: " + record);
    HttpResponse<String> uncordoned = postJson("/api/actions/host/dash-idle/uncordon", "",
        "Authorization", "Bearer " + adminToken);
    assertEquals(200, uncordoned.statusCode(), uncordoned.body());
    assertEquals(HostStatus.HOST_STATUS_UP, hostStatus("dash-idle"));

    String unknownVm = java.util.UUID.randomUUID().toString();
    String farmSays;
    try {
      admin.suspendVm(unknownVm);
      throw new AssertionError("the farm suspended a VM it does not have");
    } catch (org.servicefarm.client.FarmException e) {
      farmSays = e.serverMessage();
    }
    HttpResponse<String> missing = postJson("/api/actions/vm/" + unknownVm + "/suspend", "{}",
        "Authorization", "Bearer " + adminToken);
    assertEquals(404, missing.statusCode(), missing.body());
    assertEquals(farmSays, JsonParser.parseString(missing.body()).getAsJsonObject()
        .get("error").getAsString(), "the farm's own words");
  }

  private static HttpResponse<String> postJson(String path, String json, String... headers)
      throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base() + path))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json));
    if (headers.length > 0) {
      request.headers(headers);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static HostStatus hostStatus(String id) {
    return admin.listHosts().stream().filter(h -> h.getId().equals(id)).findFirst()
        .orElseThrow().getStatus();
  }

  @Test
  @Order(Integer.MAX_VALUE) // it changes the farm the other tests look at
  void theEventStreamCarriesATransitionAsItHappens() throws Exception {
    HttpRequest request = HttpRequest.newBuilder(URI.create(base() + "/api/events"))
        .header("Authorization", "Bearer " + adminToken).build();
    HttpResponse<Stream<String>> stream =
        http.send(request, HttpResponse.BodyHandlers.ofLines());
    assertEquals(200, stream.statusCode());
    assertTrue(stream.headers().firstValue("Content-Type").orElseThrow()
        .startsWith("text/event-stream"));
    CompletableFuture<String> sleeping = CompletableFuture.supplyAsync(() -> stream.body()
        .filter(line -> line.startsWith("data:") && line.contains(served.vmId())
            && line.contains("\"to\":\"SLEEPING\""))
        .findFirst().orElse("(the stream ended)"));
    try {
      admin.suspendVm(served.vmId(), true);
      String line = sleeping.get(20, TimeUnit.SECONDS);
      assertTrue(line.contains("\"kind\""), line);
    } finally {
      stream.body().close();
    }
  }

  @Test
  @Order(Integer.MAX_VALUE) // its streams hold web threads until their next keepalive
  void aThirdEventStreamIsRefusedSoThePagePollsInstead() throws Exception {
    HttpResponse<Stream<String>> first = openStream();
    HttpResponse<Stream<String>> second = openStream();
    try {
      HttpRequest request = HttpRequest.newBuilder(URI.create(base() + "/api/events"))
          .header("Authorization", "Bearer " + adminToken).build();
      HttpResponse<String> third = http.send(request, HttpResponse.BodyHandlers.ofString());
      assertEquals(503, third.statusCode());
      assertTrue(third.body().contains("polls instead"), third.body());
      assertEquals(200, get("/healthz").statusCode(), "other routes still answer");
    } finally {
      first.body().close();
      second.body().close();
    }
  }

  /**
   * Opens an event stream, waiting while the slots are taken: a stream whose reader left (an
   * earlier test's) holds its slot until its next keepalive finds the connection closed.
   */
  private static HttpResponse<Stream<String>> openStream() throws Exception {
    HttpRequest request = HttpRequest.newBuilder(URI.create(base() + "/api/events"))
        .header("Authorization", "Bearer " + adminToken).build();
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (true) {
      HttpResponse<Stream<String>> stream = http.send(request, HttpResponse.BodyHandlers.ofLines());
      if (stream.statusCode() == 200 || System.nanoTime() > deadline) {
        assertEquals(200, stream.statusCode(), "no stream slot freed up within 20 s");
        return stream;
      }
      stream.body().close();
      Thread.sleep(200);
    }
  }

  private static String resource(String name) throws Exception {
    try (InputStream in = Dashboard.class.getResourceAsStream(name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
