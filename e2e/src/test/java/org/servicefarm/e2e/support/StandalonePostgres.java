package org.servicefarm.e2e.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.servicefarm.controller.db.embedded.EmbeddedPostgres;

/**
 * A PostgreSQL server of its own for tests whose controllers use {@code --database-url}: several
 * controllers sharing one database, or a database stopped and started under a running farm. It
 * keeps its port across restarts, so the controllers' URL stays valid.
 */
public final class StandalonePostgres implements AutoCloseable {
  private final Path dataDir;
  private final int port;
  private final String jdbcUrl;
  private EmbeddedPostgres server;

  public StandalonePostgres(Path dir) throws IOException {
    Files.createDirectories(dir);
    // A root test runs PostgreSQL as an unprivileged user, who must enter here.
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    this.dataDir = dir.resolve("pgdata");
    this.server = EmbeddedPostgres.start(dataDir, 0);
    this.port = server.port();
    this.jdbcUrl = server.jdbcUrl();
  }

  /** Over the server's Unix socket, which stays the same across restarts; no password needed. */
  public String jdbcUrl() {
    return jdbcUrl;
  }

  public String user() {
    return EmbeddedPostgres.USER;
  }

  boolean running() {
    return server != null;
  }

  /** A fast shutdown: open sessions end, committed data stays. */
  public void stop() throws IOException {
    if (server != null) {
      server.close();
      server = null;
    }
  }

  /** Starts the server again on the same data and port. */
  public void start() throws IOException {
    if (server == null) {
      server = EmbeddedPostgres.start(dataDir, port);
    }
  }

  @Override
  public void close() throws IOException {
    stop();
  }
}
