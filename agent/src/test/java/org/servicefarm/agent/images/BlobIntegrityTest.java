package org.servicefarm.agent.images;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A blob is used only while it holds the bytes its digest names: altered in transit, or altered
 * in this host's cache, it is refused with an error naming the blob and the digests.
 */
class BlobIntegrityTest {

  private static final long UNBOUNDED = Long.MAX_VALUE;

  @TempDir
  Path dir;

  private FakeImageStoreForTest store;

  @BeforeEach
  void startStore() throws Exception {
    store = FakeImageStoreForTest.started();
  }

  @AfterEach
  void stopStore() throws Exception {
    store.close();
  }

  private ImageCache cache() throws Exception {
    return new ImageCache(dir.resolve("cache"), UNBOUNDED, store.transfers());
  }

  private static byte[] randomBytes(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }

  private static void overwriteByte(Path file, long position) throws Exception {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
      channel.write(ByteBuffer.wrap(new byte[] {0x42}), position);
    }
  }

  @Test
  void aBlobAlteredInTransitIsRefusedNamingBothDigestsAndNothingIsCached() throws Exception {
    byte[] image = randomBytes(300_000, 1);
    BlobDigest digest = store.add(image);
    store.alterBytesInTransit(200_001);
    ImageCache cache = cache();

    ImageException e = assertThrows(ImageException.class,
        () -> cache.ensure(digest, image.length, "image web (disk)"));

    byte[] received = image.clone();
    received[200_001] ^= 0x5a;
    assertTrue(e.getMessage().contains("image web (disk)")
        && e.getMessage().contains(digest.hex())
        && e.getMessage().contains(FakeImageStoreForTest.digestOf(received).hex())
        && e.getMessage().contains("altered in transit"), e.getMessage());
    assertEquals(List.of(), cache.cachedDigests());
    assertFalse(Files.exists(dir.resolve("cache").resolve(digest.hex() + ".partial")));
  }

  @Test
  void aCachedBlobAlteredOnDiskIsRefusedNamingItAndTheNextAttemptFetchesItAfresh()
      throws Exception {
    byte[] image = randomBytes(300_000, 2);
    BlobDigest digest = store.add(image);
    ImageCache cache = cache();
    cache.ensure(digest, image.length, "image web (disk)").close();
    Path cached = cache.blobPath(digest);
    overwriteByte(cached, 1234);

    ImageException e = assertThrows(ImageException.class,
        () -> cache.ensure(digest, image.length, "image web (disk)"));

    assertTrue(e.getMessage().contains("image web (disk)")
        && e.getMessage().contains(digest.hex()) && e.getMessage().contains(cached.toString())
        && e.getMessage().contains("altered on this host's disk"), e.getMessage());
    assertFalse(Files.exists(cached), "the altered copy is kept");
    try (ImageCache.Lease lease = cache.ensure(digest, image.length, "image web (disk)")) {
      assertArrayEquals(image, Files.readAllBytes(lease.path()));
    }
    assertEquals(2, store.fetchRequests.size(), "fetched once, and again after the refusal");
  }

  @Test
  void aBlobAlteredWhileTheAgentWasStoppedIsRefusedAtItsFirstUse() throws Exception {
    byte[] image = randomBytes(100_000, 3);
    BlobDigest digest = store.add(image);
    cache().ensure(digest, image.length, "image web (kernel)").close();
    Path cached = dir.resolve("cache").resolve(digest.hex());
    FileTime before = Files.getLastModifiedTime(cached);
    overwriteByte(cached, 99_999);
    Files.setLastModifiedTime(cached, before); // covering its tracks does not help

    ImageCache restarted = cache();
    ImageException e = assertThrows(ImageException.class,
        () -> restarted.ensure(digest, image.length, "image web (kernel)"));
    assertTrue(e.getMessage().contains(digest.hex()), e.getMessage());
  }

  @Test
  void aFetchResumingAPartialFileOfAnEarlierRunHashesItsBytesFromTheStart() throws Exception {
    byte[] image = randomBytes(400_000, 4);
    BlobDigest digest = store.add(image);
    Path partial = dir.resolve("cache").resolve(digest.hex() + ".partial");
    Files.createDirectories(partial.getParent());
    byte[] wrongPrefix = Arrays.copyOf(image, 150_000);
    wrongPrefix[10] ^= 1;
    Files.write(partial, wrongPrefix);
    ImageCache cache = cache();

    ImageException e = assertThrows(ImageException.class,
        () -> cache.ensure(digest, image.length, "image web (disk)"));
    assertTrue(e.getMessage().contains(digest.hex()), e.getMessage());

    Files.write(partial, Arrays.copyOf(image, 150_000));
    try (ImageCache.Lease lease = cache.ensure(digest, image.length, "image web (disk)")) {
      assertArrayEquals(image, Files.readAllBytes(lease.path()));
    }
    assertEquals(150_000, store.fetchRequests.get(store.fetchRequests.size() - 1).getOffset());
  }
}
