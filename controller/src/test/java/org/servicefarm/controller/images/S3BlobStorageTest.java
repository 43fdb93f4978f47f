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
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.controller.model.FarmException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.core.sync.ResponseTransformer;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/** The object-store backend against a real S3 API server (S3Proxy on a temporary directory). */
class S3BlobStorageTest {
  private static final S3Location LOCATION = S3Location.parse("s3://farm-blobs/test-farm");

  @TempDir
  Path dir;
  private S3TestServer server;
  private S3Client s3;
  private final java.util.ArrayList<S3BlobStorage> opened = new java.util.ArrayList<>();

  @BeforeEach
  void startServer() throws Exception {
    server = new S3TestServer(Files.createDirectories(dir.resolve("s3")), LOCATION.bucket());
    s3 = server.settings().newClient();
  }

  @AfterEach
  void stopServer() throws Exception {
    opened.forEach(S3BlobStorage::close);
    s3.close();
    server.close();
  }

  @Test
  void aBlobOneControllerStoresIsReadByAnotherFromTheObjectStore() throws IOException {
    S3BlobStorage first = storage("controller-a");
    byte[] bytes = TestBytes.random(300_000, 1);
    BlobStore.BlobInfo info = first.put(new ByteArrayInputStream(bytes), null, -1);

    assertEquals(List.of("test-farm/" + info.sha256()), keys(), "one object, named by digest");
    S3BlobStorage second = storage("controller-b");
    assertEquals(Optional.of(info), second.stat(info.sha256()));
    try (FileChannel in = second.openAt(info.sha256(), 250_000)) {
      assertArrayEquals(Arrays.copyOfRange(bytes, 250_000, bytes.length),
          Channels.newInputStream(in).readAllBytes());
    }
    assertTrue(Files.exists(dir.resolve("controller-b").resolve(info.sha256())),
        "the reader keeps a checked local copy");
  }

  @Test
  void aDamagedObjectIsRefusedAndNotServed() throws IOException {
    byte[] promised = TestBytes.random(10_000, 2);
    String sha = TestBytes.sha256(promised);
    byte[] damaged = promised.clone();
    damaged[5000] ^= 1;
    s3.putObject(b -> b.bucket(LOCATION.bucket()).key(LOCATION.key(sha)),
        RequestBody.fromBytes(damaged));

    S3BlobStorage storage = storage("controller-a");
    FarmException e = assertThrows(FarmException.Unavailable.class,
        () -> storage.openAt(sha, 0).close());
    assertTrue(e.getMessage().contains("damaged") && e.getMessage().contains(sha),
        e.getMessage());
    assertEquals(0, filesUnder(dir.resolve("controller-a")), "nothing of it kept locally");
  }

  @Test
  void anUploadCutHalfwayLeavesNoObject() throws IOException {
    S3BlobStorage storage = storage("controller-a");
    byte[] bytes = TestBytes.random(100_000, 3);
    try (BlobWriter writer = storage.writer(TestBytes.sha256(bytes), bytes.length)) {
      writer.write(ByteBuffer.wrap(bytes, 0, 50_000));
      // The sender goes away: the writer is closed without finishing.
    }
    assertEquals(List.of(), keys());
    assertEquals(Optional.empty(), storage.stat(TestBytes.sha256(bytes)));
    assertEquals(0, filesUnder(dir.resolve("controller-a")));
  }

  @Test
  void aBlobIsNotTakenWhileTheStoreIsDownAndNothingIsLeftBehind() throws Exception {
    S3BlobStorage storage = storage("controller-a");
    byte[] bytes = TestBytes.random(20_000, 4);
    server.stop();
    FarmException e = assertThrows(FarmException.Unavailable.class,
        () -> storage.put(new ByteArrayInputStream(bytes), null, -1));
    assertTrue(e.getMessage().contains("s3://farm-blobs/test-farm"), e.getMessage());
    server.restart();

    assertEquals(List.of(), keys());
    assertEquals(Optional.empty(), storage.stat(TestBytes.sha256(bytes)),
        "no local copy claims a blob the store does not hold");
    // Once the store is back, the same blob goes in.
    assertEquals(TestBytes.sha256(bytes),
        storage.put(new ByteArrayInputStream(bytes), null, -1).sha256());
    assertEquals(1, keys().size());
  }

  @Test
  void aLargeBlobGoesUpInPartsAndAFailedPartLeavesNoObjectOrUpload() throws IOException {
    S3Uploads uploads = new S3Uploads(s3, LOCATION, 5L << 20);
    byte[] bytes = TestBytes.random(12 << 20, 5);
    Path file = Files.write(dir.resolve("large"), bytes);
    String sha = TestBytes.sha256(bytes);

    uploads.upload(file, sha, bytes.length);
    assertArrayEquals(bytes, s3.getObject(b -> b.bucket(LOCATION.bucket())
        .key(LOCATION.key(sha)), ResponseTransformer.toBytes()).asByteArray());

    // A file shorter than announced fails in its second part.
    Path shorter = Files.write(dir.resolve("shorter"), Arrays.copyOf(bytes, 7 << 20));
    String other = TestBytes.sha256(TestBytes.random(1, 6));
    assertThrows(RuntimeException.class, () -> uploads.upload(shorter, other, bytes.length));
    assertEquals(List.of(LOCATION.key(sha)), keys());
    assertEquals(List.of(), s3.listMultipartUploads(b -> b.bucket(LOCATION.bucket()))
        .uploads(), "the failed upload's parts are dropped");
  }

  @Test
  void aBucketThatDoesNotExistIsNamedAtStart() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> S3BlobStorage.open(server.settings(), S3Location.parse("s3://no-such-bucket/x"),
            dir.resolve("cache"), BlobStore.DEFAULT_MAX_BLOB_BYTES,
            ImageSettings.DEFAULT_STORE_QUOTA_BYTES));
    assertTrue(e.getMessage().contains("bucket no-such-bucket does not exist"), e.getMessage());
  }

  @Test
  void locationsAreParsedAndBadOnesNamed() {
    assertEquals(new S3Location("farm-blobs", ""), S3Location.parse("s3://farm-blobs"));
    assertEquals(new S3Location("farm-blobs", "a/b"), S3Location.parse("s3://farm-blobs/a/b/"));
    assertEquals("a/b/" + "0".repeat(64), S3Location.parse("s3://farm-blobs/a/b").key(
        "0".repeat(64)));
    for (String bad : List.of("http://farm-blobs/x", "s3://Farm_Blobs/x", "s3://farm-blobs/a//b",
        "s3:///x", "s3://user@farm-blobs/x")) {
      FarmException e = assertThrows(FarmException.InvalidInput.class,
          () -> S3Location.parse(bad), bad);
      assertTrue(e.getMessage().contains("'"), e.getMessage());
    }
  }

  private S3BlobStorage storage(String name) {
    S3BlobStorage storage = new S3BlobStorage(server.settings().newClient(), LOCATION,
        dir.resolve(name), BlobStore.DEFAULT_MAX_BLOB_BYTES, ImageSettings.DEFAULT_STORE_QUOTA_BYTES,
        LOCATION.toString());
    opened.add(storage);
    return storage;
  }

  private List<String> keys() {
    return s3.listObjectsV2(b -> b.bucket(LOCATION.bucket())).contents().stream()
        .map(S3Object::key).sorted().toList();
  }

  private static long filesUnder(Path root) throws IOException {
    try (Stream<Path> files = Files.walk(root)) {
      return files.filter(Files::isRegularFile).count();
    }
  }
}
