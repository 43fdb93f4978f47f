package org.servicefarm.e2e.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.FarmClient;
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
      String domain = "sf-" + access.vmId();
      virsh("managedsave", domain);
      long start = System.nanoTime();
      virsh("start", domain);
      RealGuests.httpGet(access.endpoint(), PATIENCE);
      return Duration.ofNanos(System.nanoTime() - start);
    }

    private static void virsh(String action, String domain) throws Exception {
      int rc = RealGuests.run("virsh", "-q", "-c", "qemu:///system", action, domain);
      if (rc != 0) {
        throw new AssertionError("virsh " + action + " " + domain + " exited " + rc);
      }
    }
  }
}
