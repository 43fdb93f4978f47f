package org.servicefarm.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.net.URI;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.controller.images.BlobStorage;
import org.servicefarm.controller.images.BlobStore;
import org.servicefarm.controller.images.S3ClientSettings;
import picocli.CommandLine;

class BlobStoreOptionsTest {
  @TempDir Path dir;

  private BlobStoreOptions parse(String... args) {
    BlobStoreOptions options = new BlobStoreOptions();
    new CommandLine(options).parseArgs(args);
    return options;
  }

  @Test
  void withoutBlobStoreTheDataDirectoryHoldsTheBlobs() {
    try (BlobStorage blobs = parse().open(dir)) {
      assertInstanceOf(BlobStore.class, blobs);
      String sha = blobs.put(new ByteArrayInputStream(new byte[] {1, 2, 3}), null, -1).sha256();
      assertTrue(Files.exists(dir.resolve("blobs").resolve(sha)));
    }
  }

  @Test
  void aDirectoryAsBlobStoreHoldsTheBlobsItself() {
    Path shared = dir.resolve("shared");
    try (BlobStorage blobs = parse("--blob-store", shared.toString()).open(dir)) {
      String sha = blobs.put(new ByteArrayInputStream(new byte[] {4}), null, -1).sha256();
      assertTrue(Files.exists(shared.resolve(sha)));
    }
  }

  @Test
  void objectStoreOptionsWithoutAnObjectStoreAreRefusedByName() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> parse("--s3-endpoint", "http://127.0.0.1:9000").open(dir));
    assertTrue(e.getMessage().startsWith("--s3-endpoint means nothing without --blob-store"),
        e.getMessage());
  }

  @Test
  void badObjectStoreSettingsAreNamedBeforeAnythingStarts() {
    IllegalArgumentException bucket = assertThrows(IllegalArgumentException.class,
        () -> parse("--blob-store", "s3://Bad_Bucket/x").open(dir));
    assertTrue(bucket.getMessage().contains("'Bad_Bucket' is not an S3 bucket name"),
        bucket.getMessage());
    IllegalArgumentException endpoint = assertThrows(IllegalArgumentException.class,
        () -> parse("--blob-store", "s3://farm-blobs", "--s3-endpoint", "ftp://store").open(dir));
    assertEquals("S3 endpoint 'ftp://store' is not an http:// or https:// URL",
        endpoint.getMessage());
    IllegalArgumentException credentials = assertThrows(IllegalArgumentException.class,
        () -> parse("--blob-store", "s3://farm-blobs", "--s3-access-key-id", "id").open(dir));
    assertTrue(credentials.getMessage().contains("both the access key id and the secret"),
        credentials.getMessage());
  }

  @Test
  void objectStoreSettingsNeverShowTheSecret() {
    String shown = new S3ClientSettings(Optional.of(URI.create("http://127.0.0.1:9000")),
        Optional.empty(), Optional.of("farm"), Optional.of("very-secret")).toString();
    assertTrue(shown.contains("http://127.0.0.1:9000") && shown.contains("farm"), shown);
    assertTrue(!shown.contains("very-secret"), shown);
  }
}
