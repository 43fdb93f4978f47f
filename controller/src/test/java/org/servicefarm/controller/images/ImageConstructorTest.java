package org.servicefarm.controller.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ImageRepository;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgresForTests;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.ImageRecord;
import org.servicefarm.controller.model.ServiceDefinitionRecord.ServicePort;

/** Claiming builds on a real PostgreSQL, and a build whose tool fails. */
class ImageConstructorTest {
  @TempDir
  Path dataDir;
  private Database db;
  private final ImageRepository images = new ImageRepository();
  private ImageCatalog catalog;

  @BeforeEach
  void migrate() {
    db = new Database(EmbeddedPostgresForTests.freshDatabase(), EmbeddedPostgresForTests.user(), "", 4);
    Migrations.migrate(db.dataSource());
    catalog = new ImageCatalog(db, images, new CatalogRepository());
  }

  @AfterEach
  void close() {
    db.close();
  }

  static ImageRecord defineComposed(ImageCatalog catalog, String name, List<String> packages,
      String command) {
    return catalog.image(catalog.define(new ImageCatalog.DefinitionInput(name, packages, "",
        command, 1, 256, List.of(new ServicePort(name, 80)))).imageId());
  }

  @Test
  void aComposedImageNeedsBuildingAndOnlyOneClaimOfItWins() {
    ImageRecord image = defineComposed(catalog, "web", List.of("busybox"), "busybox httpd -f");
    assertTrue(catalog.needsBuild(image.id()));
    assertEquals("PENDING", image.buildState());

    Duration stale = Duration.ofMinutes(45);
    Optional<ImageRecord> first = db.inTransaction(tx -> images.claimBuild(tx, image.id(), stale));
    Optional<ImageRecord> second = db.inTransaction(tx -> images.claimBuild(tx, image.id(), stale));

    assertEquals("BUILDING", first.orElseThrow().buildState());
    assertNotNull(first.get().buildStartedAt());
    assertEquals(Optional.empty(), second);
  }

  @Test
  void aStaleClaimIsTakenOverAndItsBuilderCanNoLongerRecordAnOutcome() throws Exception {
    ImageRecord image = defineComposed(catalog, "web", List.of("busybox"), "");
    ImageRecord presumedDead = db.inTransaction(tx -> images.claimBuild(tx, image.id(),
        Duration.ofMinutes(45))).orElseThrow();
    Thread.sleep(10);
    ImageRecord takeover = db.inTransaction(tx -> images.claimBuild(tx, image.id(),
        Duration.ZERO)).orElseThrow();
    assertNotEquals(presumedDead.buildStartedAt(), takeover.buildStartedAt());

    ImageRepository.BuiltImage built = new ImageRepository.BuiltImage("a".repeat(64), 10,
        "b".repeat(64), "c".repeat(64), GuestInit.KERNEL_CMDLINE, "e".repeat(64), 20);
    assertEquals(Optional.empty(), db.inTransaction(tx -> images.markReady(tx, image.id(),
        presumedDead.buildStartedAt(), built)));
    ImageRecord ready = db.inTransaction(tx -> images.markReady(tx, image.id(),
        takeover.buildStartedAt(), built)).orElseThrow();
    assertEquals("READY", ready.buildState());
    assertEquals("b".repeat(64), ready.kernelSha256());
    assertFalse(catalog.needsBuild(image.id()));
    List<ImageConstructor.Outcome> outcomes = new java.util.ArrayList<>();
    new ImageConstructor(db, images, new BlobStore(dataDir),
        ImageConstructor.Settings.defaults(dataDir), outcomes::add).ensureBuilt(ready);
    assertEquals(List.of(ImageConstructor.Outcome.ALREADY_BUILT), outcomes,
        "a built image is a hit of the controller's image store");
  }

  @Test
  void theSchemaRefusesAReadyComposedImageWithoutKernel() {
    ImageRecord image = defineComposed(catalog, "web", List.of("busybox"), "");
    assertThrows(RuntimeException.class, () -> db.update(
        "UPDATE images SET build_state = 'READY', sha256 = ? WHERE id = ?", "a".repeat(64),
        image.id()));
    assertThrows(RuntimeException.class, () -> db.update(
        "UPDATE images SET build_state = 'FAILED' WHERE id = ?", image.id()));
  }

  @Test
  void aRegisteredImageNeedsNoBuild() {
    ImageRecord registered = catalog.register("debian", "d".repeat(64), 100, "qcow2", null);
    ImageConstructor constructor = new ImageConstructor(db, images, new BlobStore(dataDir), dataDir);
    assertFalse(catalog.needsBuild(registered.id()));
    assertSame(registered, constructor.ensureBuilt(registered));
  }

  @Test
  void aFailedBuildIsRecordedWithTheToolsLastWordsAndNamesTheImage() {
    BuildTools.requireOrSkip();
    ImageRecord image = defineComposed(catalog, "web", List.of("busybox"), "");
    // Nothing listens on port 9 of this machine: apt fails at once, without the network.
    ImageConstructor.Settings settings = new ImageConstructor.Settings(dataDir,
        new ComposeCommand("bookworm", List.of("http://127.0.0.1:9/debian")),
        Duration.ofMinutes(2), Duration.ofMinutes(3), Duration.ofMinutes(45), Duration.ofSeconds(1));
    List<ImageConstructor.Outcome> outcomes = new java.util.ArrayList<>();
    ImageConstructor constructor = new ImageConstructor(db, images, new BlobStore(dataDir),
        settings, outcomes::add);

    FarmException e = assertThrows(FarmException.Unavailable.class,
        () -> constructor.ensureBuilt(image));

    assertEquals(List.of(ImageConstructor.Outcome.FAILED), outcomes, "what the metrics count");
    assertTrue(e.getMessage().contains(image.name()), e.getMessage());
    ImageRecord failed = catalog.image(image.id());
    assertEquals("FAILED", failed.buildState());
    assertTrue(failed.buildError().contains("mmdebstrap exited with status"), failed.buildError());
    assertTrue(failed.buildError().contains("127.0.0.1:9"), failed.buildError());
    assertFalse(Files.exists(dataDir.resolve("build").resolve(image.inputHash())),
        "the build directory is removed");
    assertTrue(Files.exists(dataDir.resolve("build").resolve(image.inputHash() + ".log")));
    assertTrue(catalog.needsBuild(image.id()), "a failed image is tried again on next use");
  }
}
