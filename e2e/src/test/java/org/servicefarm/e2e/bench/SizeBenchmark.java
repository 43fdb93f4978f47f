package org.servicefarm.e2e.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Files;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.FarmAdminGrpc;
import org.servicefarm.api.v1.ListVmsRequest;
import org.servicefarm.api.v1.ListVmsResponse;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.e2e.support.BenchmarkTable;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.ProcessFigures;
import org.servicefarm.e2e.support.ProductionJvm;
import org.servicefarm.e2e.support.StandalonePostgres;

/**
 * Size: a controller process over 100,000 VM rows (with their vm_services rows) on 1,000 hosts,
 * written straight into its database: heap after a full collection and RSS, before and after
 * ListVms pages through every VM at the largest page the API allows. Not a test of behaviour:
 * it prints figures (./farm bench Size runs it).
 */
@org.junit.jupiter.api.extension.ExtendWith(ProductionJvm.class)
class SizeBenchmark {
  private static final int HOSTS = 1_000;
  private static final int VMS = 100_000;
  private static final int PAGE = 1_000; // FarmAdminService's largest page

  @Test
  void size() throws Exception {
    try (StandalonePostgres pg = new StandalonePostgres(Files.createTempDirectory("servicefarm-pg"));
        ProcessFarm farm = new ProcessFarm("test:///default")) {
      farm.useDatabase(pg);
      farm.startController();
      long pid = farm.controllerPid();
      double idleHeap = ProcessFigures.heapAfterGcMib(pid);
      double idleRss = ProcessFigures.rssMib(pid);
      try (Connection c = BulkFarmRows.connect(pg)) {
        // Hosts stay DOWN (no agents): no liveness clock turns their VMs UNKNOWN meanwhile.
        BulkFarmRows.write(c, HOSTS, VMS, VMS / HOSTS, "ACTIVE", "ACTIVE", "SLEEPING", "ARCHIVED");
      }
      // A few reconcile sweeps and liveness ticks over the full tables before measuring.
      Thread.sleep(5_000);
      double loadedHeap = ProcessFigures.heapAfterGcMib(pid);
      double loadedRss = ProcessFigures.rssMib(pid);

      ManagedChannel channel = NettyChannelBuilder.forTarget(farm.target()).usePlaintext().build();
      List<Long> pageNanos = new ArrayList<>();
      Set<String> seen = new HashSet<>();
      long start = System.nanoTime();
      try {
        Metadata auth = new Metadata();
        auth.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
            "Bearer " + Files.readString(farm.adminTokenFile()).strip());
        FarmAdminGrpc.FarmAdminBlockingStub admin = FarmAdminGrpc.newBlockingStub(channel)
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(auth));
        String token = "";
        do {
          long t = System.nanoTime();
          ListVmsResponse page = admin.withDeadlineAfter(30, TimeUnit.SECONDS).listVms(
              ListVmsRequest.newBuilder().setPageSize(PAGE).setPageToken(token).build());
          pageNanos.add(System.nanoTime() - t);
          page.getVmsList().stream().map(Vm::getId).forEach(seen::add);
          token = page.getNextPageToken();
        } while (!token.isEmpty());
      } finally {
        channel.shutdownNow();
      }
      Duration total = Duration.ofNanos(System.nanoTime() - start);
      assertEquals(VMS, seen.size(), "paging lists every VM exactly once");
      double pagedRss = ProcessFigures.rssMib(pid);
      double pagedHeap = ProcessFigures.heapAfterGcMib(pid);

      List<Long> sorted = pageNanos.stream().sorted().toList();
      BenchmarkTable table = new BenchmarkTable("Size", "measure", "value");
      table.row("heap after GC: empty farm / " + VMS + " VMs / after paging",
          String.format("%.0f / %.0f / %.0f MiB", idleHeap, loadedHeap, pagedHeap));
      table.row("RSS: empty farm / " + VMS + " VMs / after paging",
          String.format("%.0f / %.0f / %.0f MiB", idleRss, loadedRss, pagedRss));
      table.row("ListVms through all " + VMS + " (" + PAGE + " a page)",
          BenchmarkTable.seconds(total) + ", " + pageNanos.size() + " pages");
      table.row("page latency p50 / p99 / max", String.format("%.0f / %.0f / %.0f ms",
          millis(sorted, 0.50), millis(sorted, 0.99), sorted.get(sorted.size() - 1) / 1e6));
      table.row("first page / last page", String.format("%.0f / %.0f ms",
          pageNanos.get(0) / 1e6, pageNanos.get(pageNanos.size() - 1) / 1e6));
      table.note(HOSTS + " hosts, " + VMS + " VMs (half ACTIVE, a quarter SLEEPING, a quarter"
          + " ARCHIVED), each with one vm_services row, inserted with SQL into the controller's"
          + " running database. Heap is jcmd GC.heap_info after jcmd GC.run; RSS is VmRSS.");
      table.publish("size.md");
    }
  }

  private static double millis(List<Long> sorted, double quantile) {
    int i = (int) Math.min(sorted.size() - 1, Math.ceil(quantile * sorted.size()) - 1);
    return sorted.get(Math.max(0, i)) / 1e6;
  }
}
