package org.servicefarm.e2e.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.FarmAdminGrpc;
import org.servicefarm.api.v1.ListVmsRequest;
import org.servicefarm.api.v1.ListVmsResponse;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.client.FarmClient;
import org.servicefarm.e2e.support.BenchmarkTable;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.ProcessFigures;
import org.servicefarm.e2e.support.ProductionJvm;
import org.servicefarm.e2e.support.StandalonePostgres;
import org.servicefarm.e2e.support.BulkFarmRows;

/**
 * Size: a controller process over 1,000,000 VM rows (most DELETED or ARCHIVED, as a long-lived
 * farm has, each with its vm_services row) on 1,000 hosts, written straight into its database.
 * Each figure beside its floor, the same measure on the empty farm in the same run: heap after a
 * full collection and RSS; a warm request's p50 and p99 (a probe service of its own, one VM);
 * the idle ladder's tick time (the controller's duty timer in /metrics); and ListVms paging
 * through the VMs that still exist (exclude_deleted) at the largest page the API allows, beside
 * the same keyset pages read with SQL straight from the database. Not a test of behaviour: it
 * prints figures (./farm bench Size runs it; -Dbench.vms sets the count).
 */
@org.junit.jupiter.api.extension.ExtendWith(ProductionJvm.class)
class SizeBenchmark {
  private static final int HOSTS = 1_000;
  private static final int VMS = Integer.getInteger("bench.vms", 1_000_000);
  private static final int PAGE = 1_000; // FarmAdminService's largest page
  private static final int REQUESTS = 300;
  private static final Duration TICKS = Duration.ofSeconds(10);
  /** 70 % DELETED, 20 % ARCHIVED, 5 % ACTIVE, 5 % SLEEPING. */
  private static final String[] STATES = {"DELETED", "ACTIVE", "SLEEPING", "ARCHIVED",
      "ARCHIVED", "ARCHIVED", "ARCHIVED", "DELETED", "DELETED", "DELETED", "DELETED", "DELETED",
      "DELETED", "DELETED", "DELETED", "DELETED", "DELETED", "DELETED", "DELETED", "DELETED"};
  private static final String PROBE = "size-probe";

  private record Figures(double heap, double rss, double requestP50, double requestP99,
      double ladderTickMs) {}

  @Test
  void size() throws Exception {
    try (StandalonePostgres pg = new StandalonePostgres(Files.createTempDirectory("servicefarm-pg"));
        ProcessFarm farm = new ProcessFarm("test:///default")) {
      farm.useDatabase(pg);
      farm.startController();
      long pid = farm.controllerPid();
      try (Connection c = BulkFarmRows.connect(pg)) {
        writeProbe(c);
      }
      FarmClient client = farm.client();
      Figures empty = measure(farm, client, pid);
      long writing = System.nanoTime();
      try (Connection c = BulkFarmRows.connect(pg)) {
        // Hosts stay DOWN (no agents): no liveness clock turns their VMs UNKNOWN meanwhile.
        BulkFarmRows.write(c, HOSTS, VMS, VMS / HOSTS, STATES);
      }
      Duration written = Duration.ofNanos(System.nanoTime() - writing);
      // A few reconcile sweeps, ladder ticks and liveness passes over the full tables.
      Thread.sleep(5_000);
      Figures full = measure(farm, client, pid);
      long notDeleted = (long) VMS * 6 / 20 + 1;

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
              ListVmsRequest.newBuilder().setPageSize(PAGE).setPageToken(token)
                  .setExcludeDeleted(true).build());
          pageNanos.add(System.nanoTime() - t);
          page.getVmsList().stream().map(Vm::getId).forEach(seen::add);
          token = page.getNextPageToken();
        } while (!token.isEmpty());
      } finally {
        channel.shutdownNow();
      }
      Duration total = Duration.ofNanos(System.nanoTime() - start);
      assertEquals(notDeleted, seen.size(), "paging lists every VM not deleted exactly once");
      Duration sqlFloor = sqlPaging(pg, notDeleted);
      double pagedRss = ProcessFigures.rssMib(pid);

      List<Long> sorted = pageNanos.stream().sorted().toList();
      BenchmarkTable table = new BenchmarkTable("Size", "measure", "empty farm (floor)",
          String.format("%,d VM rows", VMS), "ratio");
      table.row("heap after GC", mib(empty.heap()), mib(full.heap()), ratio(full.heap(),
          empty.heap()));
      table.row("RSS (after paging: " + mib(pagedRss) + ")", mib(empty.rss()), mib(full.rss()),
          ratio(full.rss(), empty.rss()));
      table.row("warm request p50", ms(empty.requestP50()), ms(full.requestP50()),
          ratio(full.requestP50(), empty.requestP50()));
      table.row("warm request p99", ms(empty.requestP99()), ms(full.requestP99()),
          ratio(full.requestP99(), empty.requestP99()));
      table.row("idle ladder tick (mean)", ms(empty.ladderTickMs()), ms(full.ladderTickMs()),
          ratio(full.ladderTickMs(), empty.ladderTickMs()));
      table.row(String.format("ListVms exclude_deleted, %,d VMs, %d a page", notDeleted, PAGE),
          "SQL floor " + BenchmarkTable.seconds(sqlFloor), BenchmarkTable.seconds(total)
              + ", " + pageNanos.size() + " pages", ratio(total.toNanos(), sqlFloor.toNanos()));
      table.row("ListVms page p50 / p99 / first / last", "-", String.format(
          "%.0f / %.0f / %.0f / %.0f ms", millis(sorted, 0.50), millis(sorted, 0.99),
          pageNanos.get(0) / 1e6, pageNanos.get(pageNanos.size() - 1) / 1e6), "-");
      table.note(String.format("%,d hosts, %,d VMs (70 %% DELETED, 20 %% ARCHIVED, 5 %% ACTIVE,"
          + " 5 %% SLEEPING), each with one vm_services row, inserted with SQL into the"
          + " controller's running database in %s; a probe definition with one ACTIVE VM of its"
          + " own answers the warm requests (%d sequential, each with a key). Heap is jcmd"
          + " GC.heap_info after jcmd GC.run; RSS is VmRSS; the ladder's tick is"
          + " servicefarm_leader_duty_seconds over %d s. The floor column is the same measure"
          + " on the same controller before the rows were written; the SQL floor pages the same"
          + " rows by keyset straight from the database.", HOSTS, VMS,
          BenchmarkTable.seconds(written), REQUESTS, TICKS.toSeconds()));
      table.publish("size.md");
    }
  }

  /** One definition of its own with one ACTIVE VM on a host of its own. */
  private static void writeProbe(Connection c) throws Exception {
    try (Statement s = c.createStatement()) {
      s.execute("INSERT INTO images (id, name, sha256, size_bytes, format, build_state)"
          + " VALUES ('00000000-0000-0000-0000-0000000000cc', 'probe-image', repeat('cd', 32),"
          + " 1048576, 'raw', 'READY')");
      s.execute("INSERT INTO service_definitions (name, image_id, vcpus, memory_mb) VALUES ('"
          + PROBE + "', '00000000-0000-0000-0000-0000000000cc', 1, 128)");
      s.execute("INSERT INTO services (name, definition, guest_port) VALUES ('" + PROBE + "', '"
          + PROBE + "', 8080)");
      s.execute("INSERT INTO hosts (id, address, hypervisor, status, capacity_vcpus,"
          + " capacity_memory_mb, capacity_disk_mb) VALUES ('probe-host', '127.0.0.1', 'test',"
          + " 'DOWN', 64, 65536, 100000)");
      s.execute("INSERT INTO vms (id, definition, image_id, host_id, state, desired_state, vcpus,"
          + " memory_mb) VALUES ('00000000-0000-0000-0000-0000000000cd', '" + PROBE + "',"
          + " '00000000-0000-0000-0000-0000000000cc', 'probe-host', 'ACTIVE', 'ACTIVE', 1, 128)");
      s.execute("INSERT INTO vm_services (vm_id, service, guest_port, host_port) VALUES"
          + " ('00000000-0000-0000-0000-0000000000cd', '" + PROBE + "', 8080, 40000)");
    }
  }

  private static Figures measure(ProcessFarm farm, FarmClient client, long pid)
      throws Exception {
    List<Long> nanos = new ArrayList<>();
    for (int i = 0; i < REQUESTS; i++) {
      long t = System.nanoTime();
      client.requestService(PROBE, UUID.randomUUID().toString(), Duration.ofSeconds(1));
      nanos.add(System.nanoTime() - t);
    }
    List<Long> sorted = nanos.stream().sorted().toList();
    double[] before = ladderTicks(farm);
    Thread.sleep(TICKS.toMillis());
    double[] after = ladderTicks(farm);
    double tickMs = after[1] == before[1] ? Double.NaN
        : 1000 * (after[0] - before[0]) / (after[1] - before[1]);
    return new Figures(ProcessFigures.heapAfterGcMib(pid), ProcessFigures.rssMib(pid),
        millis(sorted, 0.50), millis(sorted, 0.99), tickMs);
  }

  /** The idle ladder duty's total seconds and runs, from the controller's /metrics. */
  private static double[] ladderTicks(ProcessFarm farm) throws Exception {
    HttpRequest get = HttpRequest.newBuilder(URI.create(farm.httpBase() + "/metrics"))
        .header("Authorization", "Bearer " + Files.readString(farm.adminTokenFile()).strip())
        .build();
    String text = HttpClient.newHttpClient().send(get, HttpResponse.BodyHandlers.ofString())
        .body();
    double sum = 0;
    double count = 0;
    for (String line : text.split("\n")) {
      if (line.startsWith("servicefarm_leader_duty_seconds_sum{duty=\"idle ladder\"}")) {
        sum = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      } else if (line.startsWith("servicefarm_leader_duty_seconds_count{duty=\"idle ladder\"}")) {
        count = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return new double[] {sum, count};
  }

  /** The same pages read by keyset straight from the database: the paging's floor. */
  private static Duration sqlPaging(StandalonePostgres pg, long expected) throws Exception {
    long start = System.nanoTime();
    long rows = 0;
    try (Connection c = BulkFarmRows.connect(pg);
        PreparedStatement ps = c.prepareStatement("SELECT * FROM vms WHERE state <> 'DELETED'"
            + " AND id > ?::uuid ORDER BY id LIMIT " + PAGE)) {
      String after = "00000000-0000-0000-0000-000000000000";
      while (true) {
        ps.setString(1, after);
        int n = 0;
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            after = rs.getString("id");
            n++;
          }
        }
        rows += n;
        if (n < PAGE) {
          break;
        }
      }
    }
    assertEquals(expected, rows, "the SQL floor read every VM not deleted");
    return Duration.ofNanos(System.nanoTime() - start);
  }

  private static String mib(double v) {
    return String.format("%.0f MiB", v);
  }

  private static String ms(double v) {
    return String.format("%.2f ms", v);
  }

  private static String ratio(double a, double b) {
    return String.format("%.2f", a / b);
  }

  private static double millis(List<Long> sorted, double quantile) {
    int i = (int) Math.min(sorted.size() - 1, Math.ceil(quantile * sorted.size()) - 1);
    return sorted.get(Math.max(0, i)) / 1e6;
  }
}
