package org.servicefarm.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.config.DaemonConfig;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgresForTests;
import org.servicefarm.controller.images.BlobStore;
import org.servicefarm.controller.images.ImageSettings;
import picocli.CommandLine;

/** The backup and restore commands as an operator runs them, on a blob store in a directory. */
class BackupCommandsTest {
  @TempDir Path dir;

  private record Outcome(int exitCode, String err) {}

  private Outcome run(String... args) {
    CommandLine cli = ControllerMain.commandLine();
    StringWriter err = new StringWriter();
    cli.setErr(new PrintWriter(err));
    int code = DaemonConfig.execute(cli, args, Map.of(), dir.resolve("controller.conf"));
    return new Outcome(code, err.toString());
  }

  @Test
  void aRestoreIsRefusedWhileTheBlobStoreLacksABlobTheBackupNeeds() throws Exception {
    Path blobs = dir.resolve("blobs");
    String source = EmbeddedPostgresForTests.freshDatabase();
    String digest;
    try (Database db = new Database(source, EmbeddedPostgresForTests.user(), "", 2);
        BlobStore store = BlobStore.inDirectory(blobs, BlobStore.DEFAULT_MAX_BLOB_BYTES,
            ImageSettings.DEFAULT_STORE_QUOTA_BYTES, (file, sha256) -> { })) {
      Migrations.migrate(db.dataSource());
      digest = store.put(new ByteArrayInputStream(new byte[] {7, 7, 7}), null, -1).sha256();
      db.update("INSERT INTO images (id, name, sha256, size_bytes, format, build_state)"
          + " VALUES (?, 'disk', ?, 3, 'raw', 'READY')", UUID.randomUUID(), digest);
    }
    Path backup = dir.resolve("farm.backup");
    Outcome taken = run("--database-url", source, "--database-user",
        EmbeddedPostgresForTests.user(), "--blob-store", blobs.toString(), "backup",
        backup.toString());
    assertEquals(0, taken.exitCode(), taken.err());
    assertTrue(Files.exists(backup) && !Files.exists(dir.resolve("farm.backup.partial")));

    String target = EmbeddedPostgresForTests.freshDatabase();
    Path emptyStore = dir.resolve("other-blobs");
    Outcome refused = run("--database-url", target, "--database-user",
        EmbeddedPostgresForTests.user(), "--blob-store", emptyStore.toString(), "restore",
        backup.toString());
    assertEquals(1, refused.exitCode());
    assertTrue(refused.err().contains("the blob store lacks 1 of the 1 blobs")
        && refused.err().contains(digest), refused.err());

    Outcome restored = run("--database-url", target, "--database-user",
        EmbeddedPostgresForTests.user(), "--blob-store", blobs.toString(), "restore",
        backup.toString());
    assertEquals(0, restored.exitCode(), restored.err());
    try (Database db = new Database(target, EmbeddedPostgresForTests.user(), "", 2)) {
      assertEquals(digest, db.query("SELECT sha256 FROM images", rs -> rs.getString(1)).get(0));
    }
  }
}
