package org.servicefarm.e2e.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmTimeoutException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.BenchmarkTable;
import org.servicefarm.e2e.support.FarmLogs;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.RealGuests;

/**
 * Real guests on QEMU: cold start split by phase, wake from sleep and restore from the archive,
 * each beside the raw libvirt operation on the same guest, so the farm's overhead is a ratio.
 * Not a test: it prints figures (./farm bench runs it).
 */
class RealGuestBenchmark {
  private static final Duration PATIENCE = Duration.ofSeconds(180);
  private static final int ROUNDS = 3;
  private static final String HOST = "bench-host";
  private static final int WAKE_ROUNDS = 5;
  private static final Duration SETTLE = Duration.ofSeconds(5);

  @Test
  void realGuestLifecycle() throws Exception {
    RealGuests.requireLibvirtd();
    try (ProcessFarm farm = new ProcessFarm("qemu:///system")) {
      farm.startController();
      farm.startAgent(HOST);
      farm.awaitConnected(List.of(HOST));
      FarmClient client = farm.client(Duration.ofMinutes(20));
      Path controllerLog = farm.dir().resolve("logs/controller.log");
      Path agentLog = farm.dir().resolve("logs/agent-" + HOST + ".log");
      BenchmarkTable table = new BenchmarkTable("Real guests (QEMU through libvirtd)",
          "operation", "farm", "raw libvirt", "farm / raw", "phases");

      // Cold start with a build: the first request for a package combination composes it.
      define(client, "bench-web-0");
      int agentLines = FarmLogs.lineCount(agentLog);
      Timed cold = Timed.request(client, "bench-web-0");
      List<Duration> build = FarmLogs.lastBuild(controllerLog);
      Duration transfer = FarmLogs.transfers(agentLog, agentLines);
      Duration install = FarmLogs.command(agentLog, "install", cold.access.vmId());
      Duration boot = FarmLogs.command(agentLog, "start", cold.access.vmId());
      table.row("cold start, image composed", BenchmarkTable.seconds(cold.toFirstByte()), "-", "-",
          "compose " + BenchmarkTable.seconds(build.get(1)) + ", filesystem "
              + BenchmarkTable.seconds(build.get(2)) + ", convert " + BenchmarkTable.seconds(build.get(3))
              + ", store " + BenchmarkTable.seconds(build.get(4)) + ", transfer "
              + BenchmarkTable.seconds(transfer) + ", install " + BenchmarkTable.seconds(install.minus(transfer))
              + ", boot " + BenchmarkTable.seconds(boot) + ", answer→first byte "
              + BenchmarkTable.seconds(cold.firstByte));

      // The farm's operations first: cold start from the built, cached image, wake from sleep,
      // restore from the archive.
      List<Duration> farmCold = new ArrayList<>();
      for (int i = 1; i <= ROUNDS; i++) {
        define(client, "bench-web-" + i);
        farmCold.add(Timed.request(client, "bench-web-" + i).toFirstByte());
      }
      List<Duration> farmWake = new ArrayList<>();
      for (int i = 0; i < ROUNDS; i++) {
        client.suspendVm(cold.access.vmId(), true);
        farmWake.add(Timed.request(client, "bench-web-0").toFirstByte());
      }
      List<Duration> farmRestore = new ArrayList<>();
      ServiceAccess last = cold.access;
      for (int i = 0; i < ROUNDS; i++) {
        client.archiveVm(cold.access.vmId(), true);
        Timed t = Timed.request(client, "bench-web-0");
        farmRestore.add(t.toFirstByte());
        last = t.access;
      }

      // Then the raw libvirt operations on the same guest, with the agent stopped so that
      // nothing of the farm reacts to them.
      farm.stopAgent(HOST);
      List<Duration> rawCold = new ArrayList<>();
      List<Duration> rawWake = new ArrayList<>();
      for (int i = 0; i < ROUNDS; i++) {
        rawCold.add(Raw.coldBoot(last));
        rawWake.add(Raw.wake(last));
      }
      Duration cold50 = BenchmarkTable.median(rawCold);
      table.row("cold start, image cached", BenchmarkTable.seconds(BenchmarkTable.median(farmCold)),
          BenchmarkTable.seconds(cold50),
          BenchmarkTable.ratio(BenchmarkTable.median(farmCold), cold50),
          "raw = virsh destroy, then timed virsh start, to first byte");
      table.row("wake from sleep", BenchmarkTable.seconds(BenchmarkTable.median(farmWake)),
          BenchmarkTable.seconds(BenchmarkTable.median(rawWake)),
          BenchmarkTable.ratio(BenchmarkTable.median(farmWake), BenchmarkTable.median(rawWake)),
          "raw = virsh managedsave, then timed virsh start (restores the saved memory), to first byte");
      table.row("restore from archive", BenchmarkTable.seconds(BenchmarkTable.median(farmRestore)),
          BenchmarkTable.seconds(cold50),
          BenchmarkTable.ratio(BenchmarkTable.median(farmRestore), cold50),
          "raw = the cold boot a restore includes (virsh start of the same guest)");
      table.note("Medians of " + ROUNDS + " rounds. Farm figures run from RequestService sent to "
          + "the first HTTP 200 through the returned endpoint.");
      table.publish("real-guests.md");
    }
  }

  /**
   * Wake from sleep hop by hop: each farm wake's timeline as the controller logged it (decision,
   * command sent, agent received, restore started and done, result back, recorded ACTIVE,
   * answer), then the raw `virsh managedsave` + timed `virsh start` to first byte on the same
   * guest, in the same run. The farm's own overhead is its time to the answer less the restore.
   */
  @Test
  void wakeFromSleepHopByHop() throws Exception {
    RealGuests.requireLibvirtd();
    try (ProcessFarm farm = new ProcessFarm("qemu:///system")) {
      farm.startController();
      farm.startAgent(HOST);
      farm.awaitConnected(List.of(HOST));
      FarmClient client = farm.client(Duration.ofMinutes(20));
      Path controllerLog = farm.dir().resolve("logs/controller.log");
      define(client, "bench-wake");
      ServiceAccess access = firstRequest(client, "bench-wake");
      RealGuests.httpGet(access.endpoint(), PATIENCE);
      String load = loadAverage();

      List<Duration> farmWake = new ArrayList<>();
      List<Duration> clientAnswers = new ArrayList<>();
      List<Duration> overheads = new ArrayList<>();
      List<Map<String, Duration>> timelines = new ArrayList<>();
      List<Duration> rawWake = new ArrayList<>();
      for (int i = 0; i < WAKE_ROUNDS; i++) {
        client.suspendVm(access.vmId(), true);
        long start = System.nanoTime();
        ServiceAccess woken = client.requestService("bench-wake");
        long answered = System.nanoTime();
        long served = FirstByte.await(woken.endpoint());
        farmWake.add(Duration.ofNanos(served - start));
        clientAnswers.add(Duration.ofNanos(answered - start));
        Map<String, Duration> hops = FarmLogs.wakeTimeline(controllerLog, access.vmId());
        timelines.add(hops);
        Duration restore = hops.get("restore done").minus(hops.get("restore started"));
        overheads.add(Duration.ofNanos(answered - start).minus(restore));
        // The raw wake of the same guest right after, so both see the same load: with the agent
        // stopped, so that nothing of the farm reacts to it.
        farm.stopAgent(HOST);
        rawWake.add(Raw.wake(access, FirstByte::await));
        farm.startAgent(HOST);
        farm.awaitConnected(List.of(HOST));
        Thread.sleep(SETTLE.toMillis()); // the new agent's start-up work, off the next round
      }

      BenchmarkTable hopsTable = new BenchmarkTable("Wake from sleep, hop by hop (QEMU through"
          + " libvirtd)", "round", "decided", "command sent", "agent received", "restore started",
          "restore done", "result received", "recorded ACTIVE", "answered", "client has the answer",
          "first byte", "farm overhead");
      for (int i = 0; i < WAKE_ROUNDS; i++) {
        Map<String, Duration> hops = timelines.get(i);
        List<Object> cells = new ArrayList<>(List.of(i + 1));
        for (String hop : List.of("decided", "command sent", "agent received", "restore started",
            "restore done", "result received", "recorded ACTIVE", "answered")) {
          cells.add(hops.containsKey(hop) ? millis(hops.get(hop)) : "-");
        }
        cells.add(millis(clientAnswers.get(i)));
        cells.add(millis(farmWake.get(i)));
        cells.add(millis(overheads.get(i)));
        hopsTable.row(cells.toArray());
      }
      Duration farm50 = BenchmarkTable.median(farmWake);
      Duration raw50 = BenchmarkTable.median(rawWake);
      hopsTable.note("Each hop's time from the request as the controller logged it (the agent's"
          + " hops from the agent's clock, the same machine's). First byte: RequestService sent"
          + " to the first HTTP 200 through the returned endpoint, as the client sees it (an"
          + " attempt every 10 ms, up to 8 open at once). Farm"
          + " overhead: RequestService sent to answered, less the restore itself (restore"
          + " started to done).");
      hopsTable.note("Raw `virsh managedsave` then timed `virsh start` to first byte, same guest,"
          + " agent stopped, each right after the farm's round of the same number (the agent is"
          + " started again and left " + SETTLE.toSeconds() + " s before the next farm round): " + rawWake.stream().map(RealGuestBenchmark::millis).toList()
          + "; median " + millis(raw50) + ". Farm median " + millis(farm50) + ": farm / raw = "
          + BenchmarkTable.ratio(farm50, raw50) + " (goal ≤ 1.2); median farm overhead "
          + millis(BenchmarkTable.median(overheads)) + " (goal ≤ 50 ms). Load average at the"
          + " start of the wakes: " + load + "; after: " + loadAverage() + ".");
      hopsTable.publish("real-guest-wake.md");
    }
  }

  /**
   * The service's first request, which composes its image: on a loaded machine that can outlast
   * one request's wait (the build goes on), so the same key is sent again until it is answered.
   */
  private static ServiceAccess firstRequest(FarmClient client, String service) {
    String key = "first-" + service;
    long deadline = System.nanoTime() + Duration.ofMinutes(30).toNanos();
    while (true) {
      try {
        return client.requestService(service, key);
      } catch (FarmTimeoutException e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
      }
    }
  }

  private static String millis(Duration d) {
    return String.format(Locale.ROOT, "%.1f ms", d.toNanos() / 1e6);
  }

  private static String loadAverage() throws IOException {
    String[] fields = Files.readString(Path.of("/proc/loadavg")).split(" ");
    return fields[0] + " / " + fields[1] + " / " + fields[2] + " (1 / 5 / 15 min)";
  }

  /**
   * The first HTTP 200 from a guest. A new attempt starts every {@link #EVERY_MILLIS} ms while
   * earlier ones are still open (up to {@link #OPEN}), so the figure is neither a poll's interval
   * nor the timeout of an attempt the guest missed (QEMU's user networking accepts a connection
   * before the guest does): the first attempt answered ends the wait.
   */
  private static final class FirstByte {
    private static final long EVERY_MILLIS = 10;
    private static final int OPEN = 8;
    private static final HttpClient HTTP = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2)).build();

    /** When ({@link System#nanoTime}) the first answer came. */
    static long await(String endpoint) throws InterruptedException {
      HttpRequest request = HttpRequest.newBuilder(URI.create("http://" + endpoint + "/"))
          .timeout(Duration.ofSeconds(3)).build();
      CompletableFuture<Long> served =
          new CompletableFuture<>();
      AtomicInteger open = new AtomicInteger();
      AtomicReference<String> last =
          new AtomicReference<>("no attempt");
      long deadline = System.nanoTime() + PATIENCE.toNanos();
      while (!served.isDone() && System.nanoTime() < deadline) {
        if (open.get() < OPEN) {
          open.incrementAndGet();
          HTTP.sendAsync(request, HttpResponse.BodyHandlers.discarding()).whenComplete((r, e) -> {
            open.decrementAndGet();
            if (r != null && r.statusCode() == 200) {
              served.complete(System.nanoTime());
            } else {
              last.set(e != null ? e.toString() : "HTTP " + r.statusCode());
            }
          });
        }
        try {
          return served.get(EVERY_MILLIS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException notYet) {
          // the next attempt starts
        } catch (ExecutionException e) {
          throw new IllegalStateException(e);
        }
      }
      throw new AssertionError("GET http://" + endpoint + "/ failed for " + PATIENCE
          + "; last: " + last.get());
    }
  }

  private static void define(FarmClient client, String name) {
    client.defineService(ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
        .setCommand("busybox httpd -f -p 80 -h /srv/www").setPort(80).setMemoryMb(256).build());
  }

  /** A request's answer time and the time from the answer to the guest's first byte. */
  private record Timed(ServiceAccess access, Duration answer, Duration firstByte) {
    static Timed request(FarmClient client, String service) throws InterruptedException {
      long start = System.nanoTime();
      ServiceAccess access = client.requestService(service);
      long answered = System.nanoTime();
      RealGuests.httpGet(access.endpoint(), PATIENCE);
      long served = System.nanoTime();
      return new Timed(access, Duration.ofNanos(answered - start), Duration.ofNanos(served - answered));
    }

    Duration toFirstByte() {
      return answer.plus(firstByte);
    }
  }

  /** The same operations done directly with virsh, bypassing the farm. */
  private static final class Raw {
    static Duration coldBoot(ServiceAccess access) throws Exception {
      String domain = "sf-" + access.vmId();
      virsh("destroy", domain);
      long start = System.nanoTime();
      virsh("start", domain);
      RealGuests.httpGet(access.endpoint(), PATIENCE);
      return Duration.ofNanos(System.nanoTime() - start);
    }

    static Duration wake(ServiceAccess access) throws Exception {
      return wake(access, endpoint -> {
        RealGuests.httpGet(endpoint, PATIENCE);
        return System.nanoTime();
      });
    }

    static Duration wake(ServiceAccess access, Reach firstByte) throws Exception {
      String domain = "sf-" + access.vmId();
      virsh("managedsave", domain);
      long start = System.nanoTime();
      virsh("start", domain);
      return Duration.ofNanos(firstByte.await(access.endpoint()) - start);
    }

    /** Waits for the guest's first answer at the endpoint; says when it came (nanoTime). */
    interface Reach {
      long await(String endpoint) throws InterruptedException;
    }

    private static void virsh(String action, String domain) throws Exception {
      int rc = RealGuests.run("virsh", "-q", "-c", "qemu:///system", action, domain);
      if (rc != 0) {
        throw new AssertionError("virsh " + action + " " + domain + " exited " + rc);
      }
    }
  }
}
