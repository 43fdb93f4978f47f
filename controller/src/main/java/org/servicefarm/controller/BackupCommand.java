package org.servicefarm.controller;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.Callable;
import org.servicefarm.controller.db.FarmBackup;
import org.servicefarm.controller.images.BlobStorage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code servicefarm-controller backup FILE}: the farm's database in one consistent file. */
@Command(name = "backup", mixinStandardHelpOptions = true,
    description = {"Writes a consistent backup of the farm's database to FILE: the catalog,"
        + " hosts, VMs, leases, operations, events and tokens, read in one snapshot while the"
        + " farm runs, with the digests of the blobs they refer to. The blobs stay in the blob"
        + " store; the backup says whether the store holds every one.",
        "Uses the database and blob store of the controller's options (flags before 'backup',"
        + " the environment or the config file)."},
    footer = {"", "Examples:",
        "  servicefarm-controller --config /etc/servicefarm/controller.conf \\",
        "      backup /var/backups/farm.backup",
        "  servicefarm-controller --database-url jdbc:postgresql://db/servicefarm \\",
        "      --blob-store s3://farm-blobs/prod backup farm-$(date +%%F).backup"})
final class BackupCommand implements Callable<Integer> {
  @ParentCommand
  ControllerMain controller;

  @Parameters(paramLabel = "FILE", description = "where to write the backup (replaced whole)")
  Path file;

  @Override
  public Integer call() throws Exception {
    Path target = file.toAbsolutePath();
    Path partial = target.resolveSibling(target.getFileName() + ".partial");
    FarmBackup.Contents contents;
    try (FarmDatabaseAccess db = new FarmDatabaseAccess(controller);
        OutputStream out = Files.newOutputStream(partial)) {
      contents = FarmBackup.write(db.dataSource(), out);
    } catch (IOException | java.sql.SQLException | RuntimeException e) {
      Files.deleteIfExists(partial);
      throw e;
    }
    // A backup cut short never takes the name of a whole one.
    Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE,
        StandardCopyOption.REPLACE_EXISTING);
    List<String> missing = missingBlobs(contents.blobs());
    System.out.println("backup of schema version " + contents.schemaVersion() + " written to "
        + target + ": " + describe(contents) + "; blobs referenced: " + contents.blobs().size()
        + ", missing from the blob store: " + missing.size());
    if (!missing.isEmpty()) {
      System.err.println("servicefarm-controller backup: the blob store lacks " + missing.size()
          + " blob(s) the farm refers to, e.g. " + missing.subList(0, Math.min(5,
              missing.size())) + "; a restore cannot bring back what needs them");
    }
    return 0;
  }

  private List<String> missingBlobs(List<String> digests) {
    try (BlobStorage blobs = controller.blobStoreOptions.open(
        FarmDatabaseAccess.dataDir(controller))) {
      return digests.stream().filter(d -> blobs.stat(d).isEmpty()).toList();
    }
  }

  static String describe(FarmBackup.Contents contents) {
    StringBuilder out = new StringBuilder();
    contents.rows().forEach((table, rows) -> out.append(out.length() == 0 ? "" : ", ")
        .append(table).append(' ').append(rows));
    return out.toString();
  }
}
