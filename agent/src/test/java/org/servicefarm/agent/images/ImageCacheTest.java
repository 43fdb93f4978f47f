package org.servicefarm.agent.images;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.api.v1.FetchBlobRequest;

/** The image cache against an in-process image store. */
class ImageCacheTest {

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

  private ImageCache cache(long maxBytes) throws Exception {
    return new ImageCache(dir.resolve("cache"), maxBytes, store.transfers());
  }

  private static byte[] randomBytes(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }

  private List<String> filesInCache() throws Exception {
    try (Stream<Path> files = Files.list(dir.resolve("cache"))) {
      return files.map(path -> path.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void fetchCutHalfwayResumesFromWhereItStoppedAndEndsWithTheRightBytes() throws Exception {
    byte[] image = randomBytes(1 << 20, 1);
    BlobDigest digest = store.add(image);
    int cutAt = (1 << 19) + 100;
    store.cutNextFetches(1, cutAt);
    ImageCache cache = cache(UNBOUNDED);

    try (ImageCache.Lease lease = cache.ensure(digest, image.length, "image web (disk)")) {
      assertArrayEquals(image, Files.readAllBytes(lease.path()));
    }

    List<FetchBlobRequest> requests = store.fetchRequests;
    assertEquals(2, requests.size(), "one cut fetch and one resumed fetch: " + requests);
    assertEquals(0, requests.get(0).getOffset());
    assertTrue(requests.get(1).getOffset() > 0, "the second fetch started over at 0");
    assertEquals(cutAt, requests.get(1).getOffset(), "resumed elsewhere than where it was cut");
    assertEquals(List.of(digest.hex()), filesInCache(), "partial file left behind");
    assertEquals(List.of(digest.hex()), cache.cachedDigests());
  }

  @Test
  void aFetchReportsItsBytesRisingToTheWholeBlobAndACachedBlobReportsNothing() throws Exception {
    byte[] image = randomBytes(1 << 20, 3);
    BlobDigest digest = store.add(image);
    int cutAt = 300_000;
    store.cutNextFetches(1, cutAt);
    ImageCache cache = cache(UNBOUNDED);
    List<long[]> reports = new ArrayList<>();

    cache.ensure(digest, image.length, "image web (disk)",
        (done, total) -> reports.add(new long[] {done, total})).close();

    assertFalse(reports.isEmpty());
    for (int i = 1; i < reports.size(); i++) {
      assertTrue(reports.get(i - 1)[0] <= reports.get(i)[0], "bytes went back, resumed or not");
    }
    long[] last = reports.get(reports.size() - 1);
    assertEquals(image.length, last[0]);
    assertEquals(image.length, last[1]);
    int before = reports.size();
    cache.ensure(digest, image.length, "image web (disk)",
        (done, total) -> reports.add(new long[] {done, total})).close();
    assertEquals(before, reports.size(), "a cached blob is not fetched, so nothing to report");
  }

  @Test
  void statsCountAFetchAsAMissWithItsBytesAndTheNextAskAsAHit() throws Exception {
    byte[] image = randomBytes(200_000, 4);
    BlobDigest digest = store.add(image);
    ImageCache cache = cache(UNBOUNDED);

    cache.ensure(digest, image.length, "image web (disk)").close();
    cache.ensure(digest, image.length, "image web (disk)").close();

    assertEquals(new ImageCache.Stats(1, 1, image.length), cache.stats());
  }

  @Test
  void blobWhoseBytesDoNotMatchItsDigestIsRefusedAndNothingIsLeftInTheCache() throws Exception {
    BlobDigest claimed =
        FakeImageStoreForTest.digestOf("the image as built".getBytes(StandardCharsets.UTF_8));
    byte[] tampered = "the image as tampered with".getBytes(StandardCharsets.UTF_8);
    store.addUnderWrongDigest(claimed, tampered);
    ImageCache cache = cache(UNBOUNDED);

    var e = assertThrows(ImageException.class, () -> cache.ensure(claimed, 0, "image web (disk)"));

    String actual = FakeImageStoreForTest.digestOf(tampered).hex();
    assertTrue(e.getMessage().contains("image web (disk)"), e.getMessage());
    assertTrue(e.getMessage().contains(claimed.hex()), "expected digest missing: " + e.getMessage());
    assertTrue(e.getMessage().contains(actual), "actual digest missing: " + e.getMessage());
    assertEquals(List.of(), filesInCache());
    assertEquals(List.of(), cache.cachedDigests());
  }

  @Test
  void blobMissingFromTheStoreNamesTheImage() throws Exception {
    BlobDigest absent = FakeImageStoreForTest.digestOf(new byte[] {1, 2, 3});
    var e = assertThrows(ImageException.class,
        () -> cache(UNBOUNDED).ensure(absent, 3, "image redis (disk)"));
    assertTrue(e.getMessage().contains("image redis (disk)")
        && e.getMessage().contains(absent.hex()), e.getMessage());
  }

  @Test
  void trimEvictsLeastRecentlyUsedBlobsButKeepsThoseInUseAndThoseLeased() throws Exception {
    ImageCache cache = cache(300_000);
    List<BlobDigest> digests = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      digests.add(store.add(randomBytes(100_000, 10 + i)));
    }
    BlobDigest inUseButOldest = digests.get(0);
    BlobDigest leastRecent = digests.get(1);
    BlobDigest moreRecent = digests.get(2);
    BlobDigest leased = digests.get(3);
    for (BlobDigest digest : List.of(inUseButOldest, leastRecent, moreRecent)) {
      cache.ensure(digest, 100_000, "image " + digest).close();
    }
    ImageCache.Lease held = cache.ensure(leased, 100_000, "image held");
    for (int i = 0; i < 4; i++) {
      // Recent uses (within the grace), in this order.
      Files.setLastModifiedTime(cache.blobPath(digests.get(i)),
          FileTime.fromMillis(System.currentTimeMillis() - 60_000 + 1000L * i));
    }

    cache.trim(Set.of(inUseButOldest.hex()));

    assertEquals(Set.of(inUseButOldest.hex(), moreRecent.hex(), leased.hex()),
        Set.copyOf(cache.cachedDigests()), "evicted the wrong blobs");
    assertFalse(Files.exists(cache.blobPath(leastRecent)));
    held.close();
  }

  @Test
  void aBlobUnusedForLongerThanTheGraceIsEvictedWithinTheBoundUnlessADomainUsesIt()
      throws Exception {
    ImageCache cache = new ImageCache(dir.resolve("cache"), UNBOUNDED, store.transfers(),
        java.time.Duration.ofHours(24));
    BlobDigest stale = store.add(randomBytes(1_000, 21));
    BlobDigest staleInUse = store.add(randomBytes(1_000, 22));
    BlobDigest recent = store.add(randomBytes(1_000, 23));
    for (BlobDigest digest : List.of(stale, staleInUse, recent)) {
      cache.ensure(digest, 1_000, "image " + digest).close();
    }
    assertFalse(cache.overBound(), "nothing to do while every blob was used recently");
    FileTime twoDaysAgo = FileTime.fromMillis(System.currentTimeMillis() - 2 * 86_400_000L);
    Files.setLastModifiedTime(cache.blobPath(stale), twoDaysAgo);
    Files.setLastModifiedTime(cache.blobPath(staleInUse), twoDaysAgo);

    assertTrue(cache.overBound(), "a stale blob is work for trim");
    cache.trim(Set.of(staleInUse.hex()));

    assertEquals(Set.of(staleInUse.hex(), recent.hex()), Set.copyOf(cache.cachedDigests()));
  }

  @Test
  void concurrentAsksForOneImageWaitForOneFetch() throws Exception {
    byte[] image = randomBytes(300_000, 7);
    BlobDigest digest = store.add(image);
    CountDownLatch gate = new CountDownLatch(1);
    store.holdFetchesUntil(gate);
    ImageCache cache = cache(UNBOUNDED);
    ExecutorService installs = Executors.newFixedThreadPool(3);
    try {
      List<Future<byte[]>> results = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        results.add(installs.submit(() -> {
          try (ImageCache.Lease lease = cache.ensure(digest, image.length, "image web (disk)")) {
            return Files.readAllBytes(lease.path());
          }
        }));
      }
      while (store.fetchRequests.isEmpty()) {
        Thread.sleep(10);
      }
      Thread.sleep(200); // the other two are now waiting, not fetching
      gate.countDown();
      for (Future<byte[]> result : results) {
        assertArrayEquals(image, result.get(30, TimeUnit.SECONDS));
      }
    } finally {
      installs.shutdownNow();
    }
    assertEquals(1, store.fetchRequests.size(), "the image was fetched more than once");
  }
}
