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

/**
 * Heartbeat ingest: 5,000 simulated agents (no libvirt) reporting every 2 s to a controller
 * running as its own process, on a PostgreSQL server of the benchmark's own so its statistics
 * can be read. Over a measured window: the controller's CPU time from /proc, and the database's
 * committed transactions and rows written from pg_stat_database and pg_stat_user_tables. Two
 * windows: every report the same as the last (what a quiet farm sends), and every report with
 * a new load. Not a test of behaviour: it prints figures (./farm bench Heartbeat runs it).
 */
@org.junit.jupiter.api.extension.ExtendWith(ProductionJvm.class)
class HeartbeatIngestBenchmark {
  private static final int AGENTS = 5_000;
  private static final int VMS_PER_HOST = 2;
  private static final Duration INTERVAL = Duration.ofSeconds(2);
  private static final int CHANNELS = 4;
  // Long enough for registration's events to leave the controller's change lookback (10 s).
  private static final Duration SETTLE =
      Duration.ofSeconds(Integer.getInteger("bench.settleSeconds", 15));
  private static final Duration WINDOW = Duration.ofSeconds(30);

  private record Sample(long nanos, double cpuSeconds, long reports, long commits,
      long rowsWritten, long hostRowsUpdated) {}

  @Test
  void heartbeatIngest() throws Exception {
    try (StandalonePostgres pg = new StandalonePostgres(Files.createTempDirectory("servicefarm-pg"));
        ProcessFarm farm = new ProcessFarm("test:///default")) {
      farm.useDatabase(pg);
      farm.startController();
      long pid = farm.controllerPid();
      try (Connection c = BulkFarmRows.connect(pg)) {
        BulkFarmRows.write(c, AGENTS, AGENTS * VMS_PER_HOST, VMS_PER_HOST, "ACTIVE");
      }
      BenchmarkTable table = new BenchmarkTable("Heartbeat ingest", "reports", "agents",
          "reports/s", "controller CPU (% of one core)", "DB transactions/s",
          "rows written per report", "hosts rows updated/s", "controller RSS");
      try (SimulatedAgents agents = new SimulatedAgents(farm.target(), CHANNELS);
          Connection stats = BulkFarmRows.connect(pg)) {
        long registering = System.nanoTime();
        agents.start(AGENTS, VMS_PER_HOST, INTERVAL);
        Duration registration = Duration.ofNanos(System.nanoTime() - registering);
        Thread.sleep(SETTLE.toMillis());
        measure("unchanged", table, agents, stats, pid);
        agents.varyLoad(true);
        Thread.sleep(INTERVAL.toMillis());
        measure("new load each", table, agents, stats, pid);
        assertEquals(List.of(), agents.failures(), "every agent's stream stayed up");
        assertTrue(farm.client().listHosts().stream().filter(h -> h.getConnected()).count() == AGENTS,
            "every simulated host connected");
        table.note("Registration of the " + AGENTS + " agents (" + VMS_PER_HOST + " running VMs"
            + " each, 64 at a time) took " + BenchmarkTable.seconds(registration) + ". Window "
            + WINDOW.toSeconds() + " s each, after " + SETTLE.toSeconds() + " s settling."
            + " CPU is the controller process's utime+stime; PostgreSQL's own CPU is not in it."
            + " Transactions and rows are the database's totals over the window (the"
            + " leadership lease and every other duty included), less the benchmark's own reads.");
      }
      table.publish("heartbeat.md");
    }
  }

  private static void measure(String kind, BenchmarkTable table, SimulatedAgents agents,
      Connection stats, long pid) throws Exception {
    Sample before = sample(agents, stats, pid);
    Thread.sleep(WINDOW.toMillis());
    Sample after = sample(agents, stats, pid);
    double seconds = (after.nanos() - before.nanos()) / 1e9;
    long reports = after.reports() - before.reports();
    // Each sample is two single-statement transactions of this benchmark's.
    long commits = after.commits() - before.commits() - 2;
    table.row(kind, AGENTS, String.format("%.0f", reports / seconds),
        String.format("%.1f %%", 100 * (after.cpuSeconds() - before.cpuSeconds()) / seconds),
        String.format("%.1f", commits / seconds),
        String.format("%.4f", (double) (after.rowsWritten() - before.rowsWritten()) / reports),
        String.format("%.0f", (after.hostRowsUpdated() - before.hostRowsUpdated()) / seconds),
        String.format("%.0f MiB", ProcessFigures.rssMib(pid)));
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
