package org.servicefarm.controller;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.servicefarm.controller.db.FarmBackup;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.images.BlobStorage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code servicefarm-controller restore FILE}: a backup into a new, empty database. */
@Command(name = "restore", mixinStandardHelpOptions = true,
    description = {"Restores a backup (servicefarm-controller backup) into a new, empty"
        + " database: migrates it to the backup's schema version, checks that the blob store"
        + " holds every blob the backup refers to, and loads every table in one transaction."
        + " Start the controllers on the database afterwards; agents that reconnect report what"
        + " their hosts still run.",
        "Uses the database and blob store of the controller's options (flags before"
        + " 'restore', the environment or the config file)."},
    footer = {"", "Examples:",
        "  servicefarm-controller --database-url jdbc:postgresql://newdb/servicefarm \\",
        "      --blob-store s3://farm-blobs/prod restore farm-2026-12-07.backup"})
final class RestoreCommand implements Callable<Integer> {
  @ParentCommand
  ControllerMain controller;

  @Parameters(paramLabel = "FILE", description = "a file written by 'backup'")
  Path file;

  @Option(names = "--allow-missing-blobs", description = "restore even when the blob store lacks"
      + " blobs the backup refers to (their images cannot be installed, their archived VMs not"
      + " restored)")
  boolean allowMissingBlobs;

  @Override
  public Integer call() throws Exception {
    FarmBackup.Contents contents = FarmBackup.read(file);
    List<String> missing;
    try (BlobStorage blobs = controller.blobStoreOptions.open(
        FarmDatabaseAccess.dataDir(controller))) {
      missing = contents.blobs().stream().filter(d -> blobs.stat(d).isEmpty()).toList();
    }
    if (!missing.isEmpty() && !allowMissingBlobs) {
      throw new IllegalStateException("the blob store lacks " + missing.size() + " of the "
          + contents.blobs().size() + " blobs the backup refers to, e.g. "
          + missing.subList(0, Math.min(5, missing.size())) + "; point --blob-store at the"
          + " store the farm used, or pass --allow-missing-blobs");
    }
    try (FarmDatabaseAccess db = new FarmDatabaseAccess(controller)) {
      Migrations.migrateTo(db.dataSource(), contents.schemaVersion());
      FarmBackup.restore(db.dataSource(), file);
    }
    System.out.println("restored " + file + " (schema version " + contents.schemaVersion()
        + "): " + BackupCommand.describe(contents) + "; blobs referenced: "
        + contents.blobs().size() + ", missing from the blob store: " + missing.size());
    return 0;
  }
}
