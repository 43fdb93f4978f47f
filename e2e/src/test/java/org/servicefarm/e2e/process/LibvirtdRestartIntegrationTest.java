package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.servicefarm.api.v1.Event;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.EventFilter;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.FarmTimeoutException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.PrivateLibvirtd;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.RealGuestTest;
import org.servicefarm.e2e.support.RealGuests;

/**
 * libvirtd stopped and started under load, on a real QEMU guest: the agent reconnects to it,
 * reports the same inventory, and neither the VM nor its host changes state. The libvirtd is the
 * test's own ({@link PrivateLibvirtd}), so the machine's is never touched.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@RealGuestTest
class LibvirtdRestartIntegrationTest {
  private static final String HOST = "lvd-" + UUID.randomUUID().toString().substring(0, 6);
  private static final String SERVICE = "lvd-web";
  // Longer than the farm's liveness timeout (6 s): silence this long would make the host DOWN.
  private static final Duration OUTAGE = Duration.ofSeconds(15);

  private Path libvirtdDir;
  private PrivateLibvirtd libvirtd;
  private ProcessFarm farm;
  private FarmClient client;

  @BeforeAll
  void start() throws Exception {
    RealGuests.requireLibvirtd();
    RealGuests.requireRoot("running a libvirtd of the test's own as " + PrivateLibvirtd.USER);
    libvirtdDir = Files.createTempDirectory("sf-lvd");
    libvirtd = new PrivateLibvirtd(libvirtdDir);
    libvirtd.start();
    farm = new ProcessFarm(libvirtd.uri());
    farm.startController();
    // The agent runs as the private libvirtd's user, who cannot read the controller's own copy
    // of the admin token (its data directory is the controller's alone): it gets one of its own.
    Path stateDir = farm.dir().resolve("agent-" + HOST);
    Files.createDirectories(stateDir);
    Path token = Files.copy(farm.adminTokenFile(), stateDir.resolve("admin.token"));
    PrivateLibvirtd.chownToUser(stateDir);
    farm.startAgent(HOST, PrivateLibvirtd.asUser(), List.of("--token-file", token.toString()));
    farm.awaitConnected(List.of(HOST));
    client = farm.client(Duration.ofMinutes(10));
    client.defineService(ServiceDefinition.newBuilder().setName(SERVICE)
        .addPackages("busybox").setCommand("busybox httpd -f -p 80 -h /srv/www").setPort(80)
        .setVcpus(1).setMemoryMb(256).build());
  }

  @AfterAll
  void stop() throws Exception {
    if (farm != null) {
      farm.close(); // removes the guests through the private libvirtd, so before it stops
    }
    if (libvirtd != null) {
      libvirtd.close();
    }
    if (libvirtdDir != null) {
      RealGuests.run("rm", "-rf", libvirtdDir.toString());
    }
  }

  @Test
  void libvirtdRestartedUnderLoadChangesNoVmAndTheAgentReconnects() throws Exception {
    ServiceAccess first = request("first");
    String vmId = first.vmId();
    String bootsBefore = RealGuests.httpGet(first.endpoint(), "/boots.txt", Duration.ofSeconds(90));
    long lastEvent = newestEventId();

    // Load: requests for the running service and reads of its page, all through the outage.
    AtomicBoolean loading = new AtomicBoolean(true);
    AtomicInteger served = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    CompletableFuture<Void> load = CompletableFuture.runAsync(() -> {
      int i = 0;
      while (loading.get()) {
        try {
          ServiceAccess access = client.requestService(SERVICE, "load-" + i++);
          RealGuests.httpGet(access.endpoint(), Duration.ofSeconds(5));
          client.releaseLease(access.lease().id());
          served.incrementAndGet();
        } catch (FarmException | AssertionError e) {
          failed.incrementAndGet();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    });

    long started = System.nanoTime();
    libvirtd.stop();
    Thread.sleep(OUTAGE.toMillis());
    libvirtd.start();
    // The agent finds libvirtd again at its next report (every 2 s) and lists the same domain.
    farm.awaitTrue("the agent connected to libvirtd again", Duration.ofSeconds(30),
        () -> agentLog().split("connected to libvirt at", -1).length - 1 >= 2);
    double reconnected = (System.nanoTime() - started) / 1e9;
    Thread.sleep(5_000); // a few more reports after the return
    loading.set(false);
    load.get();

    assertEquals(VmState.VM_STATE_ACTIVE, client.getVm(vmId).getState());
    List<String> changes = client.listEvents(EventFilter.any().after(lastEvent).limit(1000))
        .stream().filter(e -> !e.getKind().equals("VM_DESIRED"))
        .filter(e -> vmId.equals(e.getVmId()) || HOST.equals(e.getHostId()))
        .map(e -> e.getKind() + " " + e.getFromState() + "->" + e.getToState() + ": "
            + e.getCause())
        .toList();
    assertEquals(List.of(), changes, "neither the VM nor its host changed state");
    assertEquals(0, failed.get(), "every request during the restart was served");
    assertTrue(served.get() > 0, "the load ran");
    String bootsAfter = RealGuests.httpGet(first.endpoint(), "/boots.txt", Duration.ofSeconds(10));
    assertEquals(bootsBefore, bootsAfter, "the guest ran on through it, not booted again");
    assertTrue(agentLog().contains("reporting the host alive without its domains"),
        "the agent kept its host alive while libvirtd was away");
    assertEquals(1, client.listHosts().stream().filter(h -> h.getId().equals(HOST))
        .findFirst().orElseThrow().getLoad().getVmCount(), "the same inventory: one VM");
    System.out.printf("libvirtd restart: %d s down under load; requests served %d, failed %d;"
        + " agent reporting its VM again after %.1f s; VM and host state changes: %d;"
        + " guest boots unchanged%n", OUTAGE.toSeconds(), served.get(), failed.get(),
        reconnected, changes.size());
  }

  private String agentLog() {
    try {
      return Files.readString(farm.dir().resolve("logs").resolve("agent-" + HOST + ".log"));
    } catch (java.io.IOException e) {
      throw new AssertionError("cannot read the agent's log", e);
    }
  }

  private long newestEventId() {
    List<Event> events = client.listEvents(EventFilter.any().limit(1000));
    return events.isEmpty() ? 0 : events.get(events.size() - 1).getId();
  }

  private ServiceAccess request(String key) {
    long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
    while (true) {
      try {
        return client.requestService(SERVICE, key);
      } catch (FarmTimeoutException stillWorking) {
        if (System.nanoTime() > deadline) {
          throw stillWorking;
        }
      }
    }
  }
}
