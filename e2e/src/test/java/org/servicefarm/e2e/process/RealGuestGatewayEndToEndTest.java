package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.EventFilter;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.VmFilter;
import org.servicefarm.e2e.support.CommandRun;
import org.servicefarm.e2e.support.GatewayProcess;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.RealGuestTest;
import org.servicefarm.e2e.support.RealGuests;

/**
 * A program that knows only static-web's gateway address reaches it whatever its real guest's
 * state: never built, asleep, archived, moved by a drain. One farm (a controller, two agents on
 * this machine's libvirtd, one gateway) for the whole class: the image is composed once, and each
 * step starts from the state the one before left. The test makes no API call to reach the
 * service; it calls the farm only to put the guest in the state under test and to check.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@RealGuestTest
class RealGuestGatewayEndToEndTest {
  private static final List<String> HOSTS = List.of("gw-qemu-a", "gw-qemu-b");
  /** Composing the image and booting it under TCG takes minutes on a slow machine. */
  private static final Duration FIRST_ANSWER = Duration.ofMinutes(12);
  private static final Duration ANSWER = Duration.ofMinutes(3);
  private static ProcessFarm farm;
  private static FarmClient client;
  private static GatewayProcess gateway;
  private static String vmId;

  @BeforeAll
  static void startFarm() throws Exception {
    RealGuests.requireLibvirtd();
    farm = new ProcessFarm("qemu:///system");
    farm.startController();
    for (String host : HOSTS) {
      farm.startAgent(host);
    }
    farm.awaitConnected(HOSTS);
    client = farm.client(Duration.ofMinutes(15));
    // A loopback address of its own: another farm's gateway on this machine may hold the ports.
    gateway = GatewayProcess.start(farm, "gateway-real", "127.0.0.6", List.of(
        "--hold-timeout", String.valueOf(FIRST_ANSWER.toSeconds()), "--release-grace", "1"));
    client.defineService(ServiceDefinition.newBuilder().setName("static-web")
        .addPackages("busybox").setCommand("busybox httpd -f -p 80 -h /srv/www").setPort(80)
        .setVcpus(1).setMemoryMb(256).build());
  }

  @AfterAll
  static void stopFarm() {
    if (gateway != null) {
      gateway.close();
    }
    if (farm != null) {
      farm.close();
    }
  }

  /** curl, as a user would type it: *.localhost resolves to loopback in curl itself. */
  private static String curl(Duration patience) throws Exception {
    CommandRun run = CommandRun.of(farm.dir(), List.of("curl", "-sS", "-D", "-", "--max-time",
        String.valueOf(patience.toSeconds()), "--connect-to", "::127.0.0.6:",
        "http://static-web.localhost:" + gateway.httpPort()
            + "/"), patience.plusSeconds(30));
    assertEquals(0, run.exitCode(), "curl through the gateway: " + run.out() + run.err());
    return run.out();
  }

  /** Prints the path and held time the gateway's header names: the figures of this run. */
  private static void figure(String path, String curlOutput) {
    curlOutput.lines().filter(l -> l.startsWith("Servicefarm-Gateway:")).findFirst()
        .ifPresent(l -> System.out.println("gateway figures: " + path + ": " + l));
  }

  private static double heldMs(String header) {
    int at = header.indexOf("held-ms=");
    return at < 0 ? 0 : Double.parseDouble(header.substring(at + 8).trim());
  }

  private static void awaitRoutesFollow() throws InterruptedException {
    // The gateways' table follows a state change within a second.
    Thread.sleep(1500);
  }

  private static long newestEventId() {
    return client.listEvents(EventFilter.any().limit(1000)).stream().mapToLong(Event::getId)
        .max().orElse(0);
  }

  @Test
  @Order(1)
  void aServiceNeverBuiltAnswersCurlThroughTheGateway() throws Exception {
    String answer = curl(FIRST_ANSWER);

    List<Vm> vms = client.listVms(VmFilter.any().offering("static-web"));
    assertEquals(1, vms.size(), "the connection built one VM");
    vmId = vms.get(0).getId();
    assertTrue(answer.startsWith("HTTP/1.1 200"), answer);
    assertTrue(answer.contains("Servicefarm-Gateway: path=built"), answer);
    figure("built", answer);
    assertTrue(answer.contains(vmId), "the page comes from the new guest: " + answer);
    assertEquals(VmState.VM_STATE_ACTIVE, client.getVm(vmId).getState());
  }

  @Test
  @Order(2)
  void aSleepingGuestAnswersCurlThroughTheGateway() throws Exception {
    assertEquals(VmState.VM_STATE_SLEEPING, client.suspendVm(vmId, true).getState());
    awaitRoutesFollow();

    String answer = curl(ANSWER);

    assertTrue(answer.startsWith("HTTP/1.1 200"), answer);
    assertTrue(answer.contains("Servicefarm-Gateway: path=woke"), answer);
    assertTrue(answer.contains(vmId), answer);
    figure("woke", answer);
    assertEquals(VmState.VM_STATE_ACTIVE, client.getVm(vmId).getState());
  }

  @Test
  @Order(3)
  void aHundredFirstConnectionsToAnArchivedGuestAllGetItsPageFromOneRestore() throws Exception {
    assertEquals(VmState.VM_STATE_ARCHIVED, client.archiveVm(vmId, true).getState());
    awaitRoutesFollow();
    long before = newestEventId();
    ExecutorService pool = Executors.newFixedThreadPool(100);
    List<GatewayProcess.Response> answers = new ArrayList<>();
    try {
      List<Future<GatewayProcess.Response>> pending = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        pending.add(pool.submit(() -> gateway.get("static-web", ANSWER)));
      }
      for (Future<GatewayProcess.Response> f : pending) {
        answers.add(f.get());
      }
    } finally {
      pool.shutdownNow();
    }
    for (GatewayProcess.Response r : answers) {
      assertEquals(200, r.status(), r.toString());
      assertTrue(r.body().contains(vmId), r.body());
    }
    assertTrue(answers.stream().anyMatch(r -> r.header("Servicefarm-Gateway")
        .startsWith("path=restored")), "the held connections name the restore");
    System.out.println("gateway figures: restored, 100 connections, longest hold "
        + answers.stream().map(r -> r.header("Servicefarm-Gateway")).max(
            java.util.Comparator.comparingDouble(RealGuestGatewayEndToEndTest::heldMs)).orElse(""));
    long restores = client.listEvents(EventFilter.any().forVm(vmId).after(before).limit(1000))
        .stream().filter(e -> e.getKind().equals("VM_STATE")
            && e.getToState().equals("RESTORING")).count();
    assertEquals(1, restores, "one restore for a hundred connections");
    assertEquals(VmState.VM_STATE_ACTIVE, client.getVm(vmId).getState());
  }

  @Test
  @Order(4)
  void drainingTheGuestsHostMovesItAndTheSameGatewayAddressServes() throws Exception {
    int gatewayPort = client.listServices().getGatewaysList().stream()
        .filter(g -> g.getService().equals("static-web")).findFirst().orElseThrow()
        .getGatewayPort();
    String firstHost = client.getVm(vmId).getHostId();
    client.drainHost(firstHost);
    farm.awaitTrue("static-web's VM ACTIVE on the other host", ANSWER, () -> {
      Vm vm = client.getVm(vmId);
      return vm.getState() == VmState.VM_STATE_ACTIVE && !vm.getHostId().equals(firstHost);
    });
    awaitRoutesFollow();

    GatewayProcess.Response answer = GatewayProcess.get("127.0.0.6", gatewayPort, "anything",
        ANSWER);

    assertEquals(200, answer.status(), answer.toString());
    assertTrue(answer.body().contains(vmId), answer.body());
    assertNotEquals(firstHost, client.getVm(vmId).getHostId());
    client.uncordonHost(firstHost);
  }
}
