package org.servicefarm.e2e.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.FarmClient;
import org.servicefarm.controller.db.BlobReferences;
import org.servicefarm.controller.images.BlobCollector;
import org.servicefarm.controller.images.BlobStore;
import org.servicefarm.e2e.support.BenchmarkTable;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * The image-store collector over 10,000 blobs (the bound: under 10 s, holding no lock a
 * request waits on): a farm's own store, in-process, filled with 10,000 unreferenced 4 KiB blobs,
 * collected once dry and once for real while a client requests a running service in a loop; the
 * requests' latencies during the pass beside those before it. Prints figures
 * (./farm bench BlobCollector).
 */
class BlobCollectorBenchmark {
  private static final int BLOBS = Integer.getInteger("bench.blobs", 10_000);

  @Test
  void tenThousandUnreferencedBlobsAreCollectedWhileRequestsGoOn() throws Exception {
    try (InProcessFarm farm = new InProcessFarm(InProcessFarm.fastConfig())) {
      farm.addHost("sim-1", 16, 16384);
      farm.awaitConnected(List.of("sim-1"));
      FarmClient client = farm.client();
      client.defineService(ServiceDefinition.newBuilder().setName("gc-web")
          .addPackages("busybox").setPort(80).setVcpus(1).setMemoryMb(64).build());
      client.requestService("gc-web");
      // The controller's own store: the directory its blobs are kept in.
      Path controllerDir = farm.storedBlob("0".repeat(64)).getParent().getParent();
      BlobStore store = new BlobStore(controllerDir);
      // Written as the store keeps them (a file named by its digest), without the store's
      // fsync per blob: the setup is not what is measured.
      byte[] content = new byte[4096];
      java.security.MessageDigest sha256 = java.security.MessageDigest.getInstance("SHA-256");
      for (int i = 0; i < BLOBS; i++) {
        ByteBuffer.wrap(content).putInt(i);
        java.nio.file.Files.write(controllerDir.resolve("blobs")
            .resolve(java.util.HexFormat.of().formatHex(sha256.digest(content))), content);
      }
      // No grace: every blob written above is old enough to go.
      BlobCollector collector =
          new BlobCollector(farm.db(), new BlobReferences(), store, Duration.ZERO);

      List<Duration> before = requestsDuring(client, () -> sleep(Duration.ofSeconds(3)));
      long started = System.nanoTime();
      BlobCollector.Report dry = collector.collect(true);
      Duration dryTook = Duration.ofNanos(System.nanoTime() - started);
      BlobCollector.Report[] real = new BlobCollector.Report[1];
      Duration[] realTook = new Duration[1];
      List<Duration> during = requestsDuring(client, () -> {
        long t = System.nanoTime();
        real[0] = collector.collect(false);
        realTook[0] = Duration.ofNanos(System.nanoTime() - t);
      });

      assertTrue(dry.collected().size() >= BLOBS, "the dry run names every unreferenced blob");
      assertEquals(dry.collected().size(), real[0].collected().size(),
          "the pass removes what the dry run named");
      assertEquals(0, collector.collect(true).collected().size(), "nothing is left to collect");
      BenchmarkTable table = new BenchmarkTable("Blob collector over " + BLOBS + " blobs",
          "measure", "figure");
      table.row("dry run (lists what would go)", BenchmarkTable.seconds(dryTook));
      table.row("collection (" + real[0].collected().size() + " blobs, "
          + real[0].freedBytes() / 1024 + " KiB freed)", BenchmarkTable.seconds(realTook[0]));
      table.row("warm request p50 / p99 before (" + before.size() + " requests)",
          millis(percentile(before, 50)) + " / " + millis(percentile(before, 99)));
      table.row("warm request p50 / p99 during (" + during.size() + " requests)",
          millis(percentile(during, 50)) + " / " + millis(percentile(during, 99)));
      table.note("Goal: under 10 s, holding no lock a request waits on (the requests during the"
          + " pass are answered as before it). Load average at the end: "
          + String.format("%.2f", java.lang.management.ManagementFactory
              .getOperatingSystemMXBean().getSystemLoadAverage()) + ".");
      table.publish("blob-collector.md");
    }
  }

  /** Requests the running service in a loop while {@code work} runs; each request's latency. */
  private static List<Duration> requestsDuring(FarmClient client, Runnable work)
      throws InterruptedException {
    List<Duration> latencies = Collections.synchronizedList(new ArrayList<>());
    AtomicBoolean running = new AtomicBoolean(true);
    Thread load = new Thread(() -> {
      while (running.get()) {
        long t = System.nanoTime();
        client.releaseLease(client.requestService("gc-web").lease().id());
        latencies.add(Duration.ofNanos(System.nanoTime() - t));
      }
    }, "gc-bench-requests");
    load.start();
    try {
      work.run();
    } finally {
      running.set(false);
      load.join();
    }
    return List.copyOf(latencies);
  }

  private static Duration percentile(List<Duration> samples, int p) {
    List<Duration> sorted = samples.stream().sorted().toList();
    return sorted.get(Math.min(sorted.size() - 1, sorted.size() * p / 100));
  }

  private static String millis(Duration d) {
    return String.format("%.1f ms", d.toNanos() / 1e6);
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
