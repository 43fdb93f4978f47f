package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.servicefarm.api.v1.Image;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.NoCapacityException;
import org.servicefarm.e2e.support.FarmLeftovers;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.RealGuests;

/**
 * The controller's blob store on a small ext4 file system of its own (a loop mount, given with
 * --blob-store) that fills up during an upload: the upload is refused as out of capacity, naming
 * the file and the file system's sizes, nothing half-written stays in the store, and the same
 * upload succeeds once there is room.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FullBlobStoreIntegrationTest {
  private static final long FILE_SYSTEM_MB = 48;
  private static final int IMAGE_BYTES = 12 << 20;

  private ProcessFarm farm;
  private FarmClient client;
  private Path fileSystemImage;
  private Path mountPoint;
  private boolean mounted;

  @BeforeAll
  void start() throws Exception {
    RealGuests.requireRoot("loop-mounting the controller's blob store");
    farm = new ProcessFarm("test:///default");
    mountPoint = Files.createDirectories(farm.dir().resolve("store-fs"));
    fileSystemImage = Files.createTempFile("sf-full-store", ".ext4");
    try (var file = new RandomAccessFile(fileSystemImage.toFile(), "rw")) {
      file.setLength(FILE_SYSTEM_MB << 20);
    }
    // No blocks kept back for root: the controller runs as root, and the disk must fill for it.
    require(RealGuests.run("mkfs.ext4", "-q", "-F", "-m", "0", fileSystemImage.toString()) == 0,
        "mkfs.ext4");
    require(RealGuests.run("mount", "-o", "loop", fileSystemImage.toString(),
        mountPoint.toString()) == 0, "mount -o loop");
    mounted = true;
    farm.startController(List.of("--blob-store", mountPoint.resolve("blobs").toString()),
        Map.of());
    client = farm.client(Duration.ofMinutes(2));
  }

  /** A machine that cannot loop-mount fails in CI, and skips loudly elsewhere. */
  private static void require(boolean ok, String what) {
    if (!ok && "true".equals(System.getenv("CI"))) {
      throw new AssertionError(what + " failed: the full-store test cannot run, and CI must run it");
    }
    if (!ok) {
      System.err.println("WARNING: " + what + " failed: full-store test SKIPPED");
    }
    Assumptions.assumeTrue(ok, what + " failed");
  }

  @AfterAll
  void stop() throws Exception {
    if (farm != null) {
      farm.close(); // stops the controller; its directory stays while the store is mounted in it
    }
    try {
      if (mounted) {
        RealGuests.run("umount", "-l", mountPoint.toString());
      }
    } finally {
      if (farm != null) {
        FarmLeftovers.deleteTree(farm.dir()); // refuses while anything is still mounted under it
      }
      if (fileSystemImage != null) {
        Files.deleteIfExists(fileSystemImage);
      }
    }
  }

  @Test
  void anUploadIntoAFullStoreIsRefusedNamingThePathAndSizesAndSucceedsOnceThereIsRoom()
      throws Exception {
    Path upload = Files.createTempFile("sf-full-store-upload", ".raw");
    Path filler = mountPoint.resolve("filler");
    try {
      byte[] bytes = new byte[IMAGE_BYTES];
      new Random(7).nextBytes(bytes);
      Files.write(upload, bytes);
      long filled = fill(filler, 4 << 20); // leaves less room than the image

      NoCapacityException full = assertThrows(NoCapacityException.class,
          () -> client.uploadImage("too-big-for-now", "raw", upload, Duration.ofMinutes(1)));
      String reason = full.getMessage();
      assertTrue(reason.contains(mountPoint.resolve("blobs").toString())
          && reason.contains("No space left on device") && reason.contains("MiB free of"),
          reason);
      assertEquals(List.of(), partialBlobs(), "nothing half-written left in the store");

      Files.delete(filler);
      long started = System.nanoTime();
      Image stored = client.uploadImage("too-big-for-now", "raw", upload, Duration.ofMinutes(1));
      double storedAfter = (System.nanoTime() - started) / 1e9;
      assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)),
          stored.getSha256(), "the same upload is stored once there is room");
      System.out.printf("full blob store upload: refused cleanly with %d MiB filled (%s);"
          + " nothing kept; the same upload stored in %.1f s once there was room%n",
          filled >> 20, reason.substring(reason.indexOf("writing")), storedAfter);
    } finally {
      Files.deleteIfExists(filler);
      Files.deleteIfExists(upload);
    }
  }

  /** Fills the file system until {@code leaveBytes} or less are free; returns the bytes written. */
  private long fill(Path filler, long leaveBytes) throws IOException {
    byte[] block = new byte[1 << 20];
    long written = 0;
    try (FileChannel channel = FileChannel.open(filler, StandardOpenOption.CREATE,
        StandardOpenOption.WRITE)) {
      while (Files.getFileStore(mountPoint).getUsableSpace() > leaveBytes + block.length) {
        written += channel.write(ByteBuffer.wrap(block));
      }
      channel.force(true);
    }
    return written;
  }

  private List<Path> partialBlobs() throws IOException {
    try (var files = Files.walk(mountPoint.resolve("blobs"))) {
      return files.filter(Files::isRegularFile).toList();
    }
  }
}
