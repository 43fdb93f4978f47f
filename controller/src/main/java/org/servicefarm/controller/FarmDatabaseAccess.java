package org.servicefarm.controller;

import java.io.IOException;
import java.nio.file.Path;
import org.postgresql.ds.PGSimpleDataSource;
import org.servicefarm.controller.db.embedded.EmbeddedPostgres;

/**
 * The database a controller with these options uses, opened for a one-off command (backup,
 * restore) rather than for serving: the external one {@code --database-url} names, or the
 * embedded one in {@code --data-dir}, started for the command (which fails, naming the
 * directory, while a controller runs on it). Plain connections without the serving pool's socket
 * timeout: copying a large table may keep the server busy longer than a request would.
 */
final class FarmDatabaseAccess implements AutoCloseable {
  private final PGSimpleDataSource dataSource = new PGSimpleDataSource();
  private final EmbeddedPostgres embedded;

  FarmDatabaseAccess(ControllerMain options) throws IOException {
    Path dir = options.dataDir != null ? options.dataDir : ControllerMain.defaultDataDir();
    if (options.databaseUrl == null) {
      embedded = EmbeddedPostgres.start(dir.resolve("pgdata"), 0);
      dataSource.setURL(embedded.jdbcUrl());
      dataSource.setUser(embedded.user());
    } else {
      embedded = null;
      dataSource.setURL(options.databaseUrl);
      dataSource.setUser(options.databaseUser);
      dataSource.setPassword(System.getenv().getOrDefault("SERVICEFARM_DB_PASSWORD", ""));
    }
    dataSource.setApplicationName("servicefarm-controller-tool");
  }

  PGSimpleDataSource dataSource() {
    return dataSource;
  }

  /** The data directory the options name (where the embedded database and local blobs live). */
  static Path dataDir(ControllerMain options) {
    return options.dataDir != null ? options.dataDir : ControllerMain.defaultDataDir();
  }

  @Override
  public void close() throws IOException {
    if (embedded != null) {
      embedded.close();
    }
  }
}
