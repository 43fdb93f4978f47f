package org.servicefarm.e2e.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.servicefarm.e2e.support.BenchmarkTable;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.ProcessFigures;
import org.servicefarm.e2e.support.ProductionJvm;
import org.servicefarm.e2e.support.StandalonePostgres;
import org.servicefarm.e2e.support.BulkFarmRows;

/**
 * Heartbeat ingest: 1,000, 5,000 and 10,000 simulated agents (no libvirt) reporting every 2 s to
 * a controller running as its own process, on a PostgreSQL server of the benchmark's own so its
 * statistics can be read. Over each measured window: the controller's CPU time from /proc, and
 * the database's committed transactions and rows written from pg_stat_database and
 * pg_stat_user_tables. At each size, four windows: the agents silent (the floor: what the
 * controller spends with that many hosts connected and nothing said), every report whole and the
 * same (the previous release's agents), Alive (a quiet farm with this release's agents), and a
 * new load each time, alone. Not a test of behaviour: it prints figures (./farm bench Heartbeat).
 */
@org.junit.jupiter.api.extension.ExtendWith(ProductionJvm.class)
class HeartbeatIngestBenchmark {
  private static final List<Integer> SIZES = java.util.Arrays.stream(
      System.getProperty("bench.agents", "1000,5000,10000").split(","))
      .map(String::strip).map(Integer::valueOf).toList();
  private static final int VMS_PER_HOST = 2;
  private static final Duration INTERVAL = Duration.ofSeconds(2);
  private static final int CHANNELS = 4;
  // Long enough for registration's events to leave the controller's change lookback (10 s).
  private static final Duration SETTLE =
      Duration.ofSeconds(Integer.getInteger("bench.settleSeconds", 15));
  private static final Duration WINDOW =
      Duration.ofSeconds(Integer.getInteger("bench.windowSeconds", 20));
  // The silent window and one report interval stay under ProcessFarm's liveness timeout (6 s).
  private static final Duration SILENT = Duration.ofSeconds(3);

  private record Sample(long nanos, double cpuSeconds, long reports, long commits,
      long rowsWritten, long hostRowsUpdated) {}

  @Test
  void heartbeatIngest() throws Exception {
    int largest = SIZES.stream().max(Integer::compare).orElseThrow();
    try (StandalonePostgres pg = new StandalonePostgres(Files.createTempDirectory("servicefarm-pg"));
        ProcessFarm farm = new ProcessFarm("test:///default")) {
      farm.useDatabase(pg);
      farm.startController();
      long pid = farm.controllerPid();
      try (Connection c = BulkFarmRows.connect(pg)) {
        BulkFarmRows.write(c, largest, largest * VMS_PER_HOST, VMS_PER_HOST, "ACTIVE");
      }
      BenchmarkTable table = new BenchmarkTable("Heartbeat ingest", "agents", "reports",
          "reports/s", "controller CPU (% of one core)", "CPU µs per report",
          "CPU over the silent floor (% of one core)", "/ whole reports", "DB transactions/s",
          "rows written per report", "hosts rows updated/s", "controller RSS");
      StringBuilder registrations = new StringBuilder();
      try (SimulatedAgents agents = new SimulatedAgents(farm.target(), CHANNELS);
          Connection stats = BulkFarmRows.connect(pg)) {
        for (int size : SIZES) {
          long registering = System.nanoTime();
          agents.send(SimulatedAgents.Reports.WHOLE);
          agents.growTo(size, VMS_PER_HOST, INTERVAL);
          registrations.append(registrations.length() == 0 ? "" : ", ").append(size).append(": ")
              .append(BenchmarkTable.seconds(Duration.ofNanos(System.nanoTime() - registering)));
          Thread.sleep(SETTLE.toMillis());
          agents.send(SimulatedAgents.Reports.SILENT);
          Thread.sleep(INTERVAL.toMillis());
          double floor = measure(size, "none (silent floor)", SILENT, table, agents, stats, pid,
              Double.NaN, Double.NaN);
          agents.send(SimulatedAgents.Reports.WHOLE);
          Thread.sleep(INTERVAL.toMillis());
          double whole = measure(size, "whole, unchanged (previous release)", WINDOW, table,
              agents, stats, pid, floor, Double.NaN);
          agents.send(SimulatedAgents.Reports.ALIVE);
          Thread.sleep(INTERVAL.toMillis());
          measure(size, "Alive", WINDOW, table, agents, stats, pid, floor, whole);
          agents.send(SimulatedAgents.Reports.NEW_LOAD);
          Thread.sleep(INTERVAL.toMillis());
          measure(size, "new load alone", WINDOW, table, agents, stats, pid, floor, whole);
          agents.send(SimulatedAgents.Reports.ALIVE);
        }
        assertEquals(List.of(), agents.failures(), "every agent's stream stayed up");
        assertTrue(farm.client().listHosts().stream().filter(h -> h.getConnected()).count()
            == largest, "every simulated host connected");
        table.note("Registration (" + VMS_PER_HOST + " running VMs each, 64 at a time), by"
            + " agents connected after it: " + registrations + ". Windows of "
            + WINDOW.toSeconds() + " s (the silent floor " + SILENT.toSeconds() + " s, shorter"
            + " than the liveness timeout), each after " + SETTLE.toSeconds() + " s settling"
            + " and one report interval. CPU is the controller process's utime+stime; PostgreSQL's"
            + " own CPU and the simulated agents' (in the benchmark's JVM) are not in it."
            + " \"Over the silent floor\" subtracts the CPU of the same controller with the same"
            + " agents connected and saying nothing; \"/ whole reports\" divides that by the"
            + " same for whole reports. Transactions and rows are the database's totals over the"
            + " window (the leadership lease and every other duty included), less the benchmark's"
            + " own reads.");
      }
      table.publish("heartbeat.md");
    }
  }

  /** Measures one window; returns the controller's CPU in that window, % of one core. */
  private static double measure(int size, String kind, Duration window, BenchmarkTable table,
      SimulatedAgents agents, Connection stats, long pid, double floor, double whole)
      throws Exception {
    Sample before = sample(agents, stats, pid);
    Thread.sleep(window.toMillis());
    Sample after = sample(agents, stats, pid);
    double seconds = (after.nanos() - before.nanos()) / 1e9;
    long reports = after.reports() - before.reports();
    // Each sample is two single-statement transactions of this benchmark's.
    long commits = after.commits() - before.commits() - 2;
    double cpuSeconds = after.cpuSeconds() - before.cpuSeconds();
    double cpu = 100 * cpuSeconds / seconds;
    table.row(String.format("%,d", size), kind, String.format("%.0f", reports / seconds),
        String.format("%.1f %%", cpu),
        reports == 0 ? "-" : String.format("%.0f", 1e6 * cpuSeconds / reports),
        Double.isNaN(floor) ? "-" : String.format("%.1f %%", cpu - floor),
        Double.isNaN(whole) ? "-" : String.format("%.2f", (cpu - floor) / (whole - floor)),
        String.format("%.1f", commits / seconds),
        reports == 0 ? "-" : String.format("%.4f",
            (double) (after.rowsWritten() - before.rowsWritten()) / reports),
        String.format("%.0f", (after.hostRowsUpdated() - before.hostRowsUpdated()) / seconds),
        String.format("%.0f MiB", ProcessFigures.rssMib(pid)));
    return cpu;
  }

  private static Sample sample(SimulatedAgents agents, Connection stats, long pid)
      throws Exception {
    long reports = agents.reportsSent();
    double cpu = ProcessFigures.cpuSeconds(pid);
    long nanos = System.nanoTime();
    try (Statement s = stats.createStatement()) {
      long commits = single(s, "SELECT xact_commit FROM pg_stat_database"
          + " WHERE datname = current_database()");
      long rows;
      long hostRows;
      try (ResultSet rs = s.executeQuery("SELECT COALESCE(sum(n_tup_ins + n_tup_upd + n_tup_del), 0),"
          + " COALESCE(sum(n_tup_upd) FILTER (WHERE relname = 'hosts'), 0) FROM pg_stat_user_tables")) {
        rs.next();
        rows = rs.getLong(1);
        hostRows = rs.getLong(2);
      }
      return new Sample(nanos, cpu, reports, commits, rows, hostRows);
    }
  }

  private static long single(Statement s, String sql) throws SQLException {
    try (ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
