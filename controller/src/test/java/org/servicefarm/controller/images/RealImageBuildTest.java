package org.servicefarm.controller.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ImageRepository;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgresForTests;
import org.servicefarm.controller.model.ImageRecord;

/**
 * Composes a real image with Debian's tools (about a minute, and Debian's archive must be
 * reachable). Skipped loudly where the tools are missing, failed instead when CI=true.
 */
class RealImageBuildTest {
  private static final String COMMAND = "busybox httpd -f -p 80 -h '/srv/www'";
  @TempDir
  Path dataDir;
  private Database db;

  @BeforeEach
  void migrate() {
    db = new Database(EmbeddedPostgresForTests.freshDatabase(), EmbeddedPostgresForTests.user(), "", 4);
    Migrations.migrate(db.dataSource());
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void composesBusyboxIntoABootableImageOnceForTwoConcurrentCallers() throws Exception {
    BuildTools.requireOrSkip();
    ImageRepository images = new ImageRepository();
    ImageCatalog catalog = new ImageCatalog(db, images, new CatalogRepository());
    BlobStore blobs = new BlobStore(dataDir);
    ImageConstructor constructor = new ImageConstructor(db, images, blobs, dataDir);
    ImageRecord pending = ImageConstructorTest.defineComposed(catalog, "static-web",
        List.of("busybox"), COMMAND);

    CompletableFuture<ImageRecord> first =
        CompletableFuture.supplyAsync(() -> constructor.ensureBuilt(pending));
    CompletableFuture<ImageRecord> second =
        CompletableFuture.supplyAsync(() -> constructor.ensureBuilt(pending));
    ImageRecord built = first.get(15, TimeUnit.MINUTES);

    assertEquals(built, second.get(1, TimeUnit.MINUTES));
    assertEquals(built, catalog.image(pending.id()));
    assertEquals("READY", built.buildState());
    assertEquals(GuestInit.KERNEL_CMDLINE, built.kernelCmdline());
    Path disk = dataDir.resolve("blobs").resolve(built.sha256());
    assertEquals(built.sizeBytes(), Files.size(disk));
    assertTrue(run("qemu-img", "info", "--output=json", disk.toString())
        .contains("\"format\": \"qcow2\""));
    assertTrue(blobs.stat(built.kernelSha256()).orElseThrow().sizeBytes() > 1_000_000);
    assertTrue(blobs.stat(built.initrdSha256()).orElseThrow().sizeBytes() > 1_000_000);

    // The guest's files are in the disk: the init and the command, intact.
    Path raw = dataDir.resolve("check.raw");
    run("qemu-img", "convert", "-O", "raw", disk.toString(), raw.toString());
    assertEquals(COMMAND, run("debugfs", "-R", "cat /etc/servicefarm/command", raw.toString()));
    assertTrue(run("debugfs", "-R", "cat /usr/sbin/servicefarm-init", raw.toString())
        .startsWith("#!/bin/sh"));
    assertTrue(run("debugfs", "-R", "stat /usr/sbin/servicefarm-init", raw.toString())
        .contains("Mode:  0755"));

    assertFalse(Files.exists(dataDir.resolve("build").resolve(built.inputHash())));
    ImageConstructor.BuildPhases phases = constructor.lastPhases(built.id()).orElseThrow();
    System.out.println("build phases: " + phases + ", total " + phases.total());
  }

  private static String run(String... argv) throws IOException, InterruptedException {
    List<String> command = new java.util.ArrayList<>(List.of(argv));
    try {
      command.set(0, ToolRunner.locate(argv[0]));
    } catch (ToolRunner.ToolFailure e) {
      throw new IOException(e.getMessage(), e);
    }
    Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(2, TimeUnit.MINUTES));
    assertEquals(0, p.exitValue(), String.join(" ", argv) + " failed");
    return out;
  }
}
