package org.servicefarm.e2e.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.servicefarm.controller.db.embedded.EmbeddedPostgres;

/**
 * A PostgreSQL primary and a synchronous streaming standby on this machine (the binaries the
 * controller embeds): every commit the primary acknowledges is on the standby too. The standby
 * starts from a copy of the primary's data directory taken while the primary was stopped (a cold
 * base backup). {@link #killPrimary} SIGKILLs the primary's processes, as a dying machine would;
 * {@link #promoteStandby} makes the standby the primary.
 */
public final class ReplicatedPostgres implements AutoCloseable {
  private final Path primaryData;
  private final Path standbyData;
  private final int primaryPort;
  private final int standbyPort;
  private EmbeddedPostgres primary;
  private EmbeddedPostgres standby;
  /** The superuser's password over TCP; the standby is a copy, so both servers share it. */
  private String password;

  public ReplicatedPostgres(Path dir) throws IOException, InterruptedException, SQLException {
    Files.createDirectories(dir);
    // A root test runs PostgreSQL as an unprivileged user, who must enter here.
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.createDirectories(dir.resolve("primary"));
    Files.createDirectories(dir.resolve("standby"));
    Files.setPosixFilePermissions(dir.resolve("primary"),
        PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(dir.resolve("standby"),
        PosixFilePermissions.fromString("rwxr-xr-x"));
    primaryData = dir.resolve("primary").resolve("pgdata");
    standbyData = dir.resolve("standby").resolve("pgdata");
    // The first start makes the cluster and the farm's database; then it is copied while down.
    // Both listen on TCP: the standby streams from the primary there, the controller reaches both.
    primary = EmbeddedPostgres.start(primaryData, 0, true);
    primaryPort = primary.port();
    password = primary.password();
    primary.close();
    Files.writeString(primaryData.resolve("postgresql.auto.conf"),
        "synchronous_standby_names = '*'\nsynchronous_commit = on\n",
        java.nio.file.StandardOpenOption.APPEND);
    run("cp", "-a", primaryData.toString(), standbyData.toString());
    // The standby's settings replace the copied ones: once promoted it must not wait for a
    // standby of its own.
    Files.writeString(standbyData.resolve("postgresql.auto.conf"), "primary_conninfo = 'host="
        + "127.0.0.1 port=" + primaryPort + " user=" + EmbeddedPostgres.USER
        + " password=" + password + " application_name=standby'\n");
    Files.writeString(standbyData.resolve("standby.signal"), "");
    primary = EmbeddedPostgres.start(primaryData, primaryPort, true);
    standby = EmbeddedPostgres.start(standbyData, 0, true);
    standbyPort = standby.port();
    awaitSynchronousStandby(Duration.ofSeconds(60));
  }

  /**
   * Both servers in one URL: the driver connects to whichever is the primary now, so the
   * controller follows a promotion without being told.
   */
  public String jdbcUrl() {
    return "jdbc:postgresql://127.0.0.1:" + primaryPort + ",127.0.0.1:" + standbyPort + "/"
        + EmbeddedPostgres.DATABASE + "?targetServerType=primary&hostRecheckSeconds=2&password="
        + java.net.URLEncoder.encode(password, java.nio.charset.StandardCharsets.UTF_8);
  }

  public String user() {
    return EmbeddedPostgres.USER;
  }

  /** SIGKILL to the primary's postmaster and every backend: nothing is flushed or handed over. */
  public void killPrimary() throws IOException {
    long pid = Long.parseLong(Files.readAllLines(primaryData.resolve("postmaster.pid")).get(0)
        .strip());
    ProcessHandle postmaster = ProcessHandle.of(pid)
        .orElseThrow(() -> new IOException("the primary's postmaster " + pid + " is not running"));
    List<ProcessHandle> backends = postmaster.descendants().toList();
    postmaster.destroyForcibly();
    backends.forEach(ProcessHandle::destroyForcibly);
    postmaster.onExit().orTimeout(10, TimeUnit.SECONDS).join();
    // The embedded server's own bookkeeping (lock, socket directory) is released; it finds the
    // server gone and says so in the log.
    primary.close();
    primary = null;
  }

  /** Ends recovery on the standby, which from then on takes writes. */
  public void promoteStandby() throws SQLException {
    try (Connection c = DriverManager.getConnection(standbyUrl(), EmbeddedPostgres.USER, "");
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT pg_promote(true, 60)")) {
      if (!rs.next() || !rs.getBoolean(1)) {
        throw new SQLException("the standby did not finish its promotion within 60 s");
      }
    }
  }

  /** The standby (after promotion: the primary), for reading what the farm committed. */
  public String standbyUrl() {
    return standby.jdbcUrl();
  }

  private void awaitSynchronousStandby(Duration timeout)
      throws SQLException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      try (Connection c = DriverManager.getConnection(primary.jdbcUrl(), EmbeddedPostgres.USER,
          "");
          Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT sync_state FROM pg_stat_replication")) {
        if (rs.next() && "sync".equals(rs.getString(1))) {
          return;
        }
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the standby did not become a synchronous standby within "
            + timeout.toSeconds() + " s; see " + primary.logFile() + " and " + standby.logFile());
      }
      Thread.sleep(100);
    }
  }

  private static void run(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IOException(String.join(" ", command) + " failed: " + output);
    }
  }

  @Override
  public void close() throws IOException {
    if (standby != null) {
      standby.close();
    }
    if (primary != null) {
      primary.close();
    }
  }
}
