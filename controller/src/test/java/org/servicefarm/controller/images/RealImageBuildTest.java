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
 * Composes real images in layers with Debian's tools (Debian's archive must be reachable; the
 * base layer and the packages come from the layer cache every test of the build shares, so only
 * the first composition of a build pays for them). Skipped loudly where the tools are missing,
 * failed instead when CI=true.
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
    ImageConstructor constructor = new ImageConstructor(db, images, blobs,
        ImageConstructor.Settings.defaults(dataDir).withLayerCache(sharedLayerCache()));
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

    // The disk is a service layer backed by the base layer, named by its digest.
    assertTrue(built.baseLayerSha256() != null, "a composed image has a base layer");
    String info = run("qemu-img", "info", "--output=json", "-U", disk.toString());
    assertTrue(info.contains("\"backing-filename\": \"" + built.baseLayerSha256() + "\""), info);
    Path base = dataDir.resolve("blobs").resolve(built.baseLayerSha256());
    assertEquals(built.baseLayerSizeBytes(), Files.size(base));
    assertTrue(built.sizeBytes() < built.baseLayerSizeBytes(),
        "the service layer holds only what the packages changed: " + built.sizeBytes()
            + " bytes over a base of " + built.baseLayerSizeBytes());

    // The guest's files are in the chain: the base's init, the layer's command, intact.
    Path raw = flatten(disk, built.baseLayerSha256(), base, "static-web");
    assertEquals(COMMAND, run("debugfs", "-R", "cat /etc/servicefarm/command", raw.toString()));
    assertEquals("static-web\n", run("debugfs", "-R", "cat /etc/servicefarm/service",
        raw.toString()));
    assertTrue(run("debugfs", "-R", "cat /usr/sbin/servicefarm-init", raw.toString())
        .startsWith("#!/bin/sh"));
    assertTrue(run("debugfs", "-R", "stat /usr/sbin/servicefarm-init", raw.toString())
        .contains("Mode:  0755"));
    run("e2fsck", "-f", "-n", raw.toString());

    assertFalse(Files.exists(dataDir.resolve("build").resolve(built.inputHash())));
    ImageConstructor.BuildPhases phases = constructor.lastPhases(built.id()).orElseThrow();
    System.out.println("build phases: " + phases + ", total " + phases.total());

    // Another combination builds on the same base: only a new service layer, with its packages.
    ImageRecord other = constructor.ensureBuilt(ImageConstructorTest.defineComposed(catalog,
        "hello", List.of("hello"), "hello"));
    assertEquals(built.baseLayerSha256(), other.baseLayerSha256());
    Path otherRaw = flatten(dataDir.resolve("blobs").resolve(other.sha256()),
        other.baseLayerSha256(), base, "hello");
    assertTrue(run("debugfs", "-R", "stat /usr/bin/hello", otherRaw.toString())
        .contains("Mode:  0755"), "the package's program is in the layer");
    assertEquals("hello", run("debugfs", "-R", "cat /etc/servicefarm/command",
        otherRaw.toString()));
    run("e2fsck", "-f", "-n", otherRaw.toString());
    ImageConstructor.BuildPhases onCachedBase = constructor.lastPhases(other.id()).orElseThrow();
    System.out.println("second combination on the cached base: " + onCachedBase + ", total "
        + onCachedBase.total());
  }

  /** The layer cache the build's tests share: {@code target/layer-cache} of the project. */
  static Path sharedLayerCache() {
    return Path.of("").toAbsolutePath().getParent().resolve("target").resolve("layer-cache");
  }

  /** The guest's whole disk as raw: the layer with its base beside it, as on a host. */
  private Path flatten(Path layer, String baseName, Path base, String name) throws Exception {
    Path chain = Files.createDirectories(dataDir.resolve("chain-" + name));
    Files.copy(layer, chain.resolve("layer.qcow2"));
    Files.createSymbolicLink(chain.resolve(baseName), base);
    Path raw = dataDir.resolve(name + ".raw");
    run("qemu-img", "convert", "-O", "raw", chain.resolve("layer.qcow2").toString(),
        raw.toString());
    return raw;
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
