package org.servicefarm.controller;

import org.servicefarm.controller.model.FarmException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Optional;
import org.servicefarm.controller.images.BlobStorage;
import org.servicefarm.controller.images.BlobStore;
import org.servicefarm.controller.images.ImageSettings;
import org.servicefarm.controller.images.S3BlobStorage;
import org.servicefarm.controller.images.S3ClientSettings;
import org.servicefarm.controller.images.S3Location;
import picocli.CommandLine.Option;

/**
 * The controller's options for where blobs live: a local directory (the default, for one
 * machine) or an S3-compatible object store that every controller of the farm shares.
 */
final class BlobStoreOptions {

  @Option(names = "--blob-store", paramLabel = "LOCATION", description = "where images and"
      + " archived VMs are kept: s3://BUCKET[/PREFIX] for an S3-compatible object store (shared"
      + " by all controllers of a farm; see --s3-*), or a directory"
      + " (default: <data-dir>/blobs)")
  String blobStore;

  @Option(names = "--s3-endpoint", paramLabel = "URL", description = "the object store's URL,"
      + " e.g. http://minio:9000 (default: AWS_ENDPOINT_URL_S3, else AWS S3 itself)")
  String s3Endpoint;

  @Option(names = "--s3-region", paramLabel = "REGION", description = "region to sign requests"
      + " for (default: AWS_REGION or the AWS profile's, else us-east-1)")
  String s3Region;

  @Option(names = "--s3-access-key-id", paramLabel = "ID", description = "with"
      + " --s3-secret-access-key, the object store's credentials (default: AWS_ACCESS_KEY_ID"
      + " and AWS_SECRET_ACCESS_KEY, the AWS profile, or the instance's role)")
  String s3AccessKeyId;

  @Option(names = "--s3-secret-access-key", paramLabel = "SECRET", description = "the secret"
      + " of --s3-access-key-id; better set as SERVICEFARM_S3_SECRET_ACCESS_KEY or in the"
      + " config file than on the command line")
  String s3SecretAccessKey;

  /** Opens the store with the default quota, for commands that only read it (backup, restore). */
  BlobStorage open(Path dataDir) {
    return open(dataDir, ImageSettings.DEFAULT_STORE_QUOTA_BYTES);
  }

  /**
   * Opens the store the options name; a bad value or an unreachable bucket fails here.
   *
   * @param quotaBytes what the blobs together may take (counted in the local directory, which an
   *     object store's blobs pass through)
   */
  BlobStorage open(Path dataDir, long quotaBytes) {
    if (blobStore == null || blobStore.isBlank()) {
      requireNoS3Options("without --blob-store s3://…");
      return new BlobStore(dataDir, BlobStore.DEFAULT_MAX_BLOB_BYTES, quotaBytes);
    }
    if (!blobStore.startsWith("s3:")) {
      requireNoS3Options("with --blob-store " + blobStore + " (a directory)");
      return BlobStore.inDirectory(Path.of(blobStore), BlobStore.DEFAULT_MAX_BLOB_BYTES,
          quotaBytes, (file, sha256) -> { });
    }
    S3Location location;
    S3ClientSettings settings;
    try {
      location = S3Location.parse(blobStore);
      settings = new S3ClientSettings(endpoint(), Optional.ofNullable(s3Region),
          Optional.ofNullable(s3AccessKeyId), Optional.ofNullable(s3SecretAccessKey));
    } catch (FarmException e) {
      throw new IllegalArgumentException("--blob-store: " + e.getMessage(), e);
    }
    return S3BlobStorage.open(settings, location, dataDir.resolve("blob-cache"),
        BlobStore.DEFAULT_MAX_BLOB_BYTES, quotaBytes);
  }

  private Optional<URI> endpoint() {
    if (s3Endpoint == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(new URI(s3Endpoint));
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("--s3-endpoint '" + s3Endpoint + "' is not a URL: "
          + e.getMessage(), e);
    }
  }

  private void requireNoS3Options(String situation) {
    String given = s3Endpoint != null ? "--s3-endpoint" : s3Region != null ? "--s3-region"
        : s3AccessKeyId != null ? "--s3-access-key-id"
        : s3SecretAccessKey != null ? "--s3-secret-access-key" : null;
    if (given != null) {
      throw new IllegalArgumentException(given + " means nothing " + situation
          + "; give --blob-store s3://BUCKET[/PREFIX]");
    }
  }
}
