package org.servicefarm.controller.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ImageRepository;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgresForTests;
import org.servicefarm.diskimage.Qcow2Bytes;

/**
 * What an admin token could make the controller read or store: files outside the import
 * directory (its own environment under /proc), links and special files in it, and images whose
 * headers name files on the hosts that will open them. Each is refused saying why, and nothing is
 * stored.
 */
class HostileImageIntakeTest {
  @TempDir
  Path dataDir;
  private Path importDir;
  private Database db;
  private BlobStore blobs;
  private ImageCatalog catalog;
  private ImageIntake intake;

  @BeforeEach
  void start() throws IOException {
    db = new Database(EmbeddedPostgresForTests.freshDatabase(), EmbeddedPostgresForTests.user(),
        "", 4);
    Migrations.migrate(db.dataSource());
    blobs = new BlobStore(dataDir, 10_000_000);
    catalog = new ImageCatalog(db, new ImageRepository(), new CatalogRepository());
    importDir = Files.createDirectories(dataDir.resolve("import")).toRealPath();
    intake = new ImageIntake(catalog, blobs, Optional.of(importDir));
  }

  @AfterEach
  void stop() {
    db.close();
  }

  private FarmException refusal(ImageIntake in, Path source, String format) {
    return assertThrows(FarmException.class,
        () -> in.registerFile("hostile", format, source, null, -1));
  }

  private void assertNothingStored() throws IOException {
    assertEquals(0, blobs.usedBytes(), "nothing entered the image store");
    assertEquals(0, catalog.list().size());
  }

  @Test
  void withoutAnImportDirectoryRegisteringByPathIsOffAndSaysHowToTurnItOn() throws IOException {
    Path file = Files.write(importDir.resolve("disk.raw"), new byte[512]);
    FarmException e = refusal(new ImageIntake(catalog, blobs), file, "raw");
    assertTrue(e.getMessage().contains("registering an image by path is off"), e.getMessage());
    assertTrue(e.getMessage().contains("--image-import-dir"), e.getMessage());
    assertNothingStored();
  }

  @Test
  void theControllersOwnEnvironmentUnderProcIsOutsideTheImportDirectory() throws IOException {
    FarmException e = refusal(intake, Path.of("/proc/self/environ"), "raw");
    assertTrue(e.getMessage().contains("/proc/self/environ is outside the import directory "
        + importDir), e.getMessage());
    FarmException dotDot = refusal(intake, importDir.resolve("../../../proc/self/environ"), "raw");
    assertTrue(dotDot.getMessage().contains("outside the import directory"), dotDot.getMessage());
    assertNothingStored();
  }

  @Test
  void aSymbolicLinkInTheImportDirectoryIsRefusedNotFollowed() throws IOException {
    Path link = Files.createSymbolicLink(importDir.resolve("environ.raw"),
        Path.of("/proc/self/environ"));
    FarmException e = refusal(intake, link, "raw");
    assertTrue(e.getMessage().contains("is a symbolic link"), e.getMessage());
    Path linkedDir = Files.createSymbolicLink(importDir.resolve("etc"), Path.of("/etc"));
    FarmException throughDir = refusal(intake, linkedDir.resolve("hostname"), "raw");
    assertTrue(throughDir.getMessage().contains("reached through a symbolic link"),
        throughDir.getMessage());
    assertNothingStored();
  }

  @Test
  void aFifoOrADirectoryInTheImportDirectoryIsRefused() throws Exception {
    Path fifo = importDir.resolve("pipe.raw");
    assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
    FarmException e = refusal(intake, fifo, "raw");
    assertTrue(e.getMessage().contains("is not a regular file"), e.getMessage());
    Path sub = Files.createDirectory(importDir.resolve("sub"));
    assertTrue(refusal(intake, sub, "raw").getMessage().contains("is not a regular file"));
    assertNothingStored();
  }

  @Test
  void aQcow2WhoseHeaderNamesAHostFileIsRefusedWhenRegisteredOrUploaded() throws IOException {
    byte[] bytes = Qcow2Bytes.withBackingFile(1 << 20, "/var/lib/servicefarm/agent/disks/x.qcow2");
    Path file = Files.write(importDir.resolve("backed.qcow2"), bytes);
    FarmException e = refusal(intake, file, "qcow2");
    assertTrue(e.getMessage().contains(
        "names the backing file '/var/lib/servicefarm/agent/disks/x.qcow2'"), e.getMessage());

    ImageIntake.Upload upload = intake.beginUpload("hostile", "qcow2", bytes.length, null);
    upload.write(ByteBuffer.wrap(bytes));
    FarmException uploaded = assertThrows(FarmException.class, upload::finish);
    assertTrue(uploaded.getMessage().contains("names the backing file"), uploaded.getMessage());
    assertNothingStored();
  }

  @Test
  void aQcow2WithAnExternalDataFileIsRefusedNamingIt() throws IOException {
    Path file = Files.write(importDir.resolve("data.qcow2"),
        Qcow2Bytes.withDataFile(1 << 20, "/dev/sda"));
    FarmException e = refusal(intake, file, "qcow2");
    assertTrue(e.getMessage().contains("external data file '/dev/sda'"), e.getMessage());
    assertNothingStored();
  }

  @Test
  void aQcow2FarLargerThanItsDeclaredSizeIsRefused() throws IOException {
    // A header declaring an empty disk, and 70 MB behind it that no disk of that size needs.
    Path file = Files.write(importDir.resolve("padded.qcow2"), Qcow2Bytes.plain(0, 70_000_000));
    BlobStore roomy = new BlobStore(dataDir, 100_000_000);
    FarmException e = refusal(new ImageIntake(catalog, roomy, Optional.of(importDir)), file,
        "qcow2");
    assertTrue(e.getMessage().contains("more than a qcow2 image of its declared virtual size"),
        e.getMessage());
  }
}
