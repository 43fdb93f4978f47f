package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.servicefarm.api.v1.Event;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.EventFilter;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.GatewayProcess;
import org.servicefarm.e2e.support.GuestStandIn;
import org.servicefarm.e2e.support.ProcessFarm;

/**
 * The gateway on real processes (a controller, an agent on libvirt's test driver, gateways):
 * connections that wake a sleeping VM, coalesced wakes, leases that follow open connections, and
 * the answers for services that cannot be served. The test driver boots nothing, so a
 * {@link GuestStandIn} answers on each VM's forwarded port; RealGuestGatewayEndToEndTest does
 * the same with real guests.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GatewayIntegrationTest {
  private static final Duration ANSWER = Duration.ofSeconds(30);
  private static ProcessFarm farm;
  private static FarmClient client;
  private static GatewayProcess gateway;
  private static final List<GuestStandIn> standIns = new ArrayList<>();

  @BeforeAll
  static void startFarm() throws Exception {
    farm = new ProcessFarm("test:///default");
    farm.startController();
    farm.startAgent("gw-host-1");
    farm.awaitConnected(List.of("gw-host-1"));
    client = farm.client();
    gateway = GatewayProcess.start(farm, "gateway-1", "127.0.0.1",
        List.of("--release-grace", "2", "--hold-timeout", "20"));
  }

  @AfterAll
  static void stopFarm() throws Exception {
    for (GuestStandIn s : standIns) {
      s.close();
    }
    if (gateway != null) {
      gateway.close();
    }
    if (farm != null) {
      farm.close();
    }
  }

  private static ServiceDefinition.Builder definition(String name) {
    return ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
        .setCommand("busybox httpd -f -p 80").setPort(80).setVcpus(1).setMemoryMb(256);
  }

  /** Builds the service's VM, puts a stand-in on its port, and puts the VM to sleep. */
  private static ServiceAccess asleep(String service) throws Exception {
    ServiceAccess access = client.requestService(service);
    standIns.add(new GuestStandIn(access.host(), access.port(), "page of " + service));
    client.releaseLease(access.lease().id());
    assertEquals(VmState.VM_STATE_SLEEPING, client.suspendVm(access.vmId(), true).getState());
    // The gateways' table follows the farm within a second; until then a gateway would name
    // the path of a connection "active" (it is served all the same).
    Thread.sleep(1500);
    return access;
  }

  private static long newestEventId() {
    List<Event> events = client.listEvents(EventFilter.any().limit(1000));
    return events.stream().mapToLong(Event::getId).max().orElse(0);
  }

  private static long wakes(String vmId, long afterId) {
    return client.listEvents(EventFilter.any().forVm(vmId).after(afterId).limit(1000)).stream()
        .filter(e -> e.getKind().equals("VM_STATE") && e.getToState().equals("ACTIVE"))
        .count();
  }

  @Test
  @Order(1)
  void aSleepingVmAnswersTheFirstHttpConnectionThroughTheGateway() throws Exception {
    client.defineService(definition("gw-web").build());
    ServiceAccess vm = asleep("gw-web");

    GatewayProcess.Response answer = gateway.get("gw-web", ANSWER);

    assertEquals(200, answer.status(), answer.toString());
    assertEquals("page of gw-web", answer.body());
    assertTrue(answer.header("Servicefarm-Gateway").startsWith("path=woke; held-ms="),
        "the answer names the path it took: " + answer.headers());
    assertEquals(VmState.VM_STATE_ACTIVE, client.getVm(vm.vmId()).getState());
    // And again with the VM ACTIVE: straight through.
    GatewayProcess.Response again = gateway.get("gw-web", ANSWER);
    assertEquals(200, again.status());
    assertTrue(again.header("Servicefarm-Gateway").startsWith("path=active;"),
        again.headers().toString());
  }

  @Test
  @Order(2)
  void concurrentFirstConnectionsToASleepingServiceMakeOneWake() throws Exception {
    client.defineService(definition("gw-crowd").build());
    ServiceAccess vm = asleep("gw-crowd");
    long before = newestEventId();
    double requestsBefore = gateway.metric(
        "servicefarm_gateway_farm_requests_total{outcome=\"ok\",service=\"gw-crowd\"}");
    ExecutorService pool = Executors.newFixedThreadPool(50);
    List<Future<GatewayProcess.Response>> answers = new ArrayList<>();
    try {
      for (int i = 0; i < 50; i++) {
        answers.add(pool.submit(() -> gateway.get("gw-crowd", ANSWER)));
      }
      for (Future<GatewayProcess.Response> a : answers) {
        GatewayProcess.Response r = a.get();
        assertEquals(200, r.status(), r.toString());
        assertEquals("page of gw-crowd", r.body());
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals(1, wakes(vm.vmId(), before), "one wake for fifty first connections");
    // Once for the wake; a second time only if the table's news of the earlier sleep reached
    // the gateway after its grant (the farm then answers the same VM: still one wake).
    double asks = gateway.metric(
        "servicefarm_gateway_farm_requests_total{outcome=\"ok\",service=\"gw-crowd\"}")
        - requestsBefore;
    assertTrue(asks >= 1 && asks <= 2, "fifty connections, one wake: the gateway asked the farm "
        + asks + " times");
  }

  @Test
  @Order(3)
  void anOpenConnectionKeepsItsVmActivePastSleepAfterAndItSleepsOnceClosed() throws Exception {
    client.defineService(definition("gw-held").setSleepAfterSeconds(2).build());
    ServiceAccess vm = asleep("gw-held");
    int port = client.listServices().getGatewaysList().stream()
        .filter(g -> g.getService().equals("gw-held")).findFirst().orElseThrow().getGatewayPort();
    Await.until("the gateway listening on gw-held's port " + port, ANSWER, () -> {
      try (Socket probe = new Socket()) {
        probe.connect(new InetSocketAddress("127.0.0.1", port), 1000);
        return true;
      } catch (java.io.IOException notYet) {
        return false;
      }
    });
    // The probes above woke nothing (they sent no byte but were spliced): wait for a sleep.
    Await.until("gw-held asleep", Duration.ofSeconds(60), () ->
        client.getVm(vm.vmId()).getState() == VmState.VM_STATE_SLEEPING);
    try (Socket tcp = new Socket()) {
      tcp.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      tcp.setSoTimeout((int) ANSWER.toMillis());
      OutputStream out = tcp.getOutputStream();
      InputStream in = tcp.getInputStream();
      out.write("GET / HTTP/1.1\r\nHost: gw-held\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      byte[] first = new byte[17];
      int n = in.readNBytes(first, 0, first.length);
      assertEquals("HTTP/1.1 200 OK\r\n", new String(first, 0, n, StandardCharsets.US_ASCII),
          "a sleeping VM answers the first TCP connection on its gateway port");
      // Five times sleep_after with the connection open and idle: the gateway's lease holds it.
      Thread.sleep(10_000);
      assertEquals(VmState.VM_STATE_ACTIVE, client.getVm(vm.vmId()).getState(),
          "a VM with an open connection stays ACTIVE past sleep_after");
    }
    Await.until("gw-held asleep after its last connection closed", Duration.ofSeconds(30),
        () -> client.getVm(vm.vmId()).getState() == VmState.VM_STATE_SLEEPING);
  }

  @Test
  @Order(4)
  void anUnknownServiceIsAnswered404AtOnce() throws Exception {
    long start = System.nanoTime();
    GatewayProcess.Response answer = gateway.get("no-such-service", ANSWER);
    assertEquals(404, answer.status(), answer.toString());
    assertTrue(answer.body().contains("no-such-service"), answer.body());
    assertTrue(System.nanoTime() - start < Duration.ofSeconds(5).toNanos());
    assertTrue(gateway.metric("servicefarm_gateway_refusals_total"
        + "{reason=\"unknown_service\",service=\"-\"}") >= 1);
  }

  @Test
  @Order(5)
  void aServiceWithoutCapacityIsAnswered503NamingItAndTheReason() throws Exception {
    // More memory than the host has: the farm answers no capacity at once.
    client.defineService(definition("gw-huge").setMemoryMb(65536).build());
    GatewayProcess.Response answer = gateway.get("gw-huge", ANSWER);
    assertEquals(503, answer.status(), answer.toString());
    assertTrue(answer.body().contains("gw-huge") && answer.body().contains("capacity"),
        answer.body());
    assertEquals("refused=no_capacity", answer.header("Servicefarm-Gateway"));
  }

  @Test
  @Order(6)
  void heldConnectionsPastTheServiceLimitAreRefusedWhileOtherServicesServe() throws Exception {
    try (GatewayProcess strict = GatewayProcess.start(farm, "gateway-strict", "127.0.0.2",
        List.of("--max-held-per-service", "1", "--hold-timeout", "20", "--tcp-ports",
            "1-2"))) {
      client.defineService(definition("gw-slow").build());
      asleep("gw-slow");
      ExecutorService pool = Executors.newFixedThreadPool(8);
      try {
        List<Future<GatewayProcess.Response>> answers = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
          answers.add(pool.submit(() -> strict.get("gw-slow", ANSWER)));
        }
        // gw-web is ACTIVE: it answers meanwhile, past the held connections of gw-slow.
        assertEquals(200, strict.get("gw-web", ANSWER).status());
        int ok = 0;
        int refused = 0;
        for (Future<GatewayProcess.Response> a : answers) {
          GatewayProcess.Response r = a.get();
          if (r.status() == 200) {
            ok++;
          } else {
            assertEquals(503, r.status(), r.toString());
            assertEquals("refused=service_held_limit", r.header("Servicefarm-Gateway"));
            refused++;
          }
        }
        assertTrue(ok >= 1, ok + " of 8 served");
        assertEquals(8, ok + refused);
      } finally {
        pool.shutdownNow();
      }
    }
  }

  @Test
  @Order(7)
  void connectionsPastMaxLeasesPerVmStartASecondVmThatTakesTheNextConnection() throws Exception {
    client.defineService(definition("gw-scale").setMaxLeasesPerVm(2).setMaxInstances(2).build());
    ServiceAccess first = client.requestService("gw-scale");
    standIns.add(new GuestStandIn(first.host(), first.port(), "page of gw-scale's first VM"));
    client.releaseLease(first.lease().id());
    int port = client.listServices().getGatewaysList().stream()
        .filter(g -> g.getService().equals("gw-scale")).findFirst().orElseThrow().getGatewayPort();
    List<Socket> open = new ArrayList<>();
    try {
      // Three open connections: one gateway, one lease on the VM, yet three users of it.
      for (int i = 0; i < 3; i++) {
        Await.until("the gateway listening on gw-scale's port " + port, ANSWER, () -> {
          try {
            open.add(openAnswered(port));
            return true;
          } catch (java.io.IOException notYet) {
            return false;
          }
        });
      }
      Await.until("a second VM of gw-scale ACTIVE", Duration.ofSeconds(60), () ->
          client.listVms(org.servicefarm.client.VmFilter.any().offering("gw-scale")).stream()
              .filter(v -> v.getState() == VmState.VM_STATE_ACTIVE).count() == 2);
      org.servicefarm.api.v1.Vm second = client.listVms(
              org.servicefarm.client.VmFilter.any().offering("gw-scale")).stream()
          .filter(v -> !v.getId().equals(first.vmId())).findFirst().orElseThrow();
      standIns.add(new GuestStandIn(second.getAccess(0).getHost(), second.getAccess(0).getPort(),
          "page of gw-scale's second VM"));
      Await.until("the gateway holding the second VM", ANSWER, () -> farmRequests("gw-scale") >= 2);

      try (Socket fourth = openAnswered(port)) {
        assertEquals("page of gw-scale's second VM", bodyOf(fourth),
            "the least loaded VM, the new one, takes the next connection");
      }
    } finally {
      for (Socket s : open) {
        s.close();
      }
    }
  }

  /** RequestService calls the gateway made for the service that the farm granted. */
  private static double farmRequests(String service) {
    try {
      return gateway.metric("servicefarm_gateway_farm_requests_total{outcome=\"ok\",service=\""
          + service + "\"}");
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** A connection to the gateway port that sent GET / and read the status line; left open. */
  private static Socket openAnswered(int port) throws java.io.IOException {
    Socket s = new Socket();
    try {
      s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      s.setSoTimeout((int) ANSWER.toMillis());
      s.getOutputStream().write("GET / HTTP/1.1\r\nHost: gw-scale\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII));
      byte[] status = s.getInputStream().readNBytes(17);
      if (!new String(status, StandardCharsets.US_ASCII).equals("HTTP/1.1 200 OK\r\n")) {
        throw new java.io.IOException("no 200 through port " + port + ": "
            + new String(status, StandardCharsets.US_ASCII));
      }
      return s;
    } catch (java.io.IOException e) {
      s.close();
      throw e;
    }
  }

  /** The rest of the answer whose status line {@link #openAnswered} read: its body. */
  private static String bodyOf(Socket s) throws java.io.IOException {
    InputStream in = s.getInputStream();
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new java.io.IOException("the answer ended in its head: " + head);
      }
      head.append((char) b);
    }
    java.util.regex.Matcher length = java.util.regex.Pattern
        .compile("(?i)content-length: *(\\d+)").matcher(head);
    if (!length.find()) {
      throw new java.io.IOException("no Content-Length in " + head);
    }
    return new String(in.readNBytes(Integer.parseInt(length.group(1))), StandardCharsets.UTF_8);
  }

  @Test
  @Order(8)
  void aSecondGatewayServesWhenTheFirstIsKilledAndNoVmChangesState() throws Exception {
    try (GatewayProcess second = GatewayProcess.start(farm, "gateway-2", "127.0.0.3",
        List.of("--tcp-ports", "1-2"))) {
      ServiceAccess web = client.requestService("gw-web");
      client.releaseLease(web.lease().id());
      long before = newestEventId();
      gateway.kill();
      GatewayProcess.Response answer = second.get("gw-web", ANSWER);
      assertEquals(200, answer.status());
      assertEquals("page of gw-web", answer.body());
      assertEquals(0, client.listEvents(EventFilter.any().after(before).limit(1000)).stream()
          .filter(e -> e.getKind().equals("VM_STATE")).count(), "no VM changed state");
    }
  }
}
