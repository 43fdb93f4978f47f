package org.servicefarm.controller.db;

import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;

/** Brings the schema up to date on controller start; on a current database it does nothing. */
public final class Migrations {
  private Migrations() {}

  public static MigrateResult migrate(DataSource dataSource) {
    return Flyway.configure()
        .dataSource(dataSource)
        .locations("classpath:db/migration")
        // An applied migration is never edited; a changed checksum stops the start.
        .validateOnMigrate(true)
        .load()
        .migrate();
  }

  /**
   * Brings a database up to {@code version} and no further (a restore loads a backup taken at
   * that version; the controller's own start migrates the rest).
   */
  public static MigrateResult migrateTo(DataSource dataSource, String version) {
    return Flyway.configure()
        .dataSource(dataSource)
        .locations("classpath:db/migration")
        .validateOnMigrate(true)
        .target(version)
        .load()
        .migrate();
  }
}
