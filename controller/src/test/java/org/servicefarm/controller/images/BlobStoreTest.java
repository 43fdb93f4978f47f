package org.servicefarm.controller.images;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.controller.model.FarmException;

class BlobStoreTest {
  @TempDir
  Path dataDir;

  @Test
  void storedBlobIsNamedByItsDigestAndReadsBackFromAnOffset() throws IOException {
    BlobStore store = new BlobStore(dataDir);
    byte[] bytes = TestBytes.random(100_000, 1);
    BlobStore.BlobInfo info = store.put(new ByteArrayInputStream(bytes), null, -1);

    assertEquals(TestBytes.sha256(bytes), info.sha256());
    assertEquals(Optional.of(info), store.stat(info.sha256()));
    assertTrue(Files.exists(dataDir.resolve("blobs").resolve(info.sha256())));
    try (FileChannel in = store.openAt(info.sha256(), 99_000)) {
      assertArrayEquals(Arrays.copyOfRange(bytes, 99_000, bytes.length),
          Channels.newInputStream(in).readAllBytes());
    }
  }

  @Test
  void bytesThatDoNotMatchTheDeclaredDigestAreRefusedAndLeaveNothing() throws IOException {
    BlobStore store = new BlobStore(dataDir);
    byte[] bytes = TestBytes.random(5000, 2);
    String declared = TestBytes.sha256(TestBytes.random(5000, 3));

    FarmException e = assertThrows(FarmException.InvalidInput.class,
        () -> store.put(new ByteArrayInputStream(bytes), declared, bytes.length));
    assertTrue(e.getMessage().contains(declared), e.getMessage());
    assertTrue(e.getMessage().contains(TestBytes.sha256(bytes)), e.getMessage());
    assertEquals(Optional.empty(), store.stat(declared));
    assertEquals(Optional.empty(), store.stat(TestBytes.sha256(bytes)));
    assertEquals(0, filesUnder(dataDir.resolve("blobs")));
  }

  @Test
  void aLengthOtherThanDeclaredIsRefused() {
    BlobStore store = new BlobStore(dataDir);
    byte[] bytes = TestBytes.random(10, 4);
    FarmException shorter = assertThrows(FarmException.InvalidInput.class,
        () -> store.put(new ByteArrayInputStream(bytes), null, 11));
    assertTrue(shorter.getMessage().contains("declared 11 bytes, received 10"), shorter.getMessage());
    assertThrows(FarmException.InvalidInput.class,
        () -> store.put(new ByteArrayInputStream(bytes), null, 9));
  }

  @Test
  void aBlobOverTheMaximumIsRefused() throws IOException {
    BlobStore store = new BlobStore(dataDir, 1000);
    assertThrows(FarmException.InvalidInput.class,
        () -> store.put(new ByteArrayInputStream(new byte[1001]), null, -1));
    assertThrows(FarmException.InvalidInput.class, () -> store.writer(null, 1001));
    assertEquals(0, filesUnder(dataDir.resolve("blobs")));
  }

  @Test
  void copyInLeavesTheSourceAndStoresAnIndependentCopy() throws IOException {
    BlobStore store = new BlobStore(dataDir);
    Path source = dataDir.resolve("image.qcow2");
    byte[] bytes = TestBytes.random(3000, 5);
    Files.write(source, bytes);
    BlobStore.BlobInfo info = store.copyIn(source, TestBytes.sha256(bytes), bytes.length);
    // Editing the source afterwards must not change the stored blob.
    Files.write(source, new byte[] {1, 2, 3});
    try (FileChannel in = store.openAt(info.sha256(), 0)) {
      assertArrayEquals(bytes, Channels.newInputStream(in).readAllBytes());
    }
  }

  @Test
  void unknownDigestsBadDigestsAndOffsetsPastTheEndAreRefused() {
    BlobStore store = new BlobStore(dataDir);
    BlobStore.BlobInfo info = store.put(new ByteArrayInputStream(new byte[10]), null, -1);
    assertThrows(FarmException.NotFound.class, () -> store.openAt("0".repeat(64), 0));
    assertThrows(FarmException.InvalidInput.class, () -> store.openAt("../../etc/passwd", 0));
    FarmException past = assertThrows(FarmException.InvalidInput.class,
        () -> store.openAt(info.sha256(), 11));
    assertTrue(past.getMessage().contains("11"), past.getMessage());
  }

  @Test
  void deleteRemovesTheBlob() {
    BlobStore store = new BlobStore(dataDir);
    BlobStore.BlobInfo info = store.put(new ByteArrayInputStream(new byte[10]), null, -1);
    assertTrue(store.delete(info.sha256()));
    assertEquals(Optional.empty(), store.stat(info.sha256()));
  }

  @Test
  void abandonedWriterLeavesNothing() throws IOException {
    BlobStore store = new BlobStore(dataDir);
    try (BlobWriter writer = store.writer(null, -1)) {
      writer.write(ByteBuffer.wrap(new byte[100]));
    }
    assertEquals(0, filesUnder(dataDir.resolve("blobs")));
  }

  private static long filesUnder(Path dir) throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(Files::isRegularFile).count();
    }
  }

  @Test
  void aBuiltLayerThatWouldPassTheQuotaIsRefusedNamingTheSizesAndNothingStoredIsHarmed()
      throws Exception {
    BlobStore store = new BlobStore(dataDir, 1 << 20, 1000);
    String kept = store.put(new java.io.ByteArrayInputStream(new byte[600]), null, 600).sha256();
    Path built = dataDir.resolve("layer.qcow2");
    java.nio.file.Files.write(built, new byte[500]);

    org.servicefarm.controller.model.FarmException.NoCapacity refused = org.junit.jupiter.api.Assertions
        .assertThrows(org.servicefarm.controller.model.FarmException.NoCapacity.class,
            () -> store.adopt(built));

    org.junit.jupiter.api.Assertions.assertTrue(refused.getMessage().contains(
        "it holds 600 bytes of its quota of 1000, and the built layer of 500 bytes"),
        refused.getMessage());
    org.junit.jupiter.api.Assertions.assertEquals(600,
        store.stat(kept).orElseThrow().sizeBytes());
    org.junit.jupiter.api.Assertions.assertTrue(java.nio.file.Files.exists(built),
        "the build's file is the caller's still");
  }
}
