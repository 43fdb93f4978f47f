package org.servicefarm.controller.images;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.regex.Pattern;
import org.servicefarm.controller.FarmException;

/**
 * A place in an S3-compatible object store, written {@code s3://bucket/prefix}: the bucket and
 * the key prefix under which the farm's blobs are the objects {@code <prefix>/<sha256>}.
 */
public record S3Location(String bucket, String prefix) {
  // S3's own rule for bucket names (3 to 63 lowercase letters, digits, dots and hyphens).
  private static final Pattern BUCKET = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");

  public S3Location {
    if (!BUCKET.matcher(bucket).matches()) {
      throw new FarmException.InvalidInput("'" + BlobStore.shorten(bucket)
          + "' is not an S3 bucket name (3 to 63 lowercase letters, digits, dots, hyphens)");
    }
    if (prefix.startsWith("/") || prefix.endsWith("/") || prefix.contains("//")) {
      throw new FarmException.InvalidInput("'" + BlobStore.shorten(prefix)
          + "' is not a key prefix (no leading, trailing or doubled '/')");
    }
  }

  /** Parses {@code s3://bucket} or {@code s3://bucket/prefix} (a trailing '/' is dropped). */
  public static S3Location parse(String value) {
    URI uri;
    try {
      uri = new URI(value);
    } catch (URISyntaxException e) {
      throw new FarmException.InvalidInput("'" + BlobStore.shorten(value)
          + "' is not s3://bucket/prefix: " + e.getMessage());
    }
    if (!"s3".equals(uri.getScheme()) || uri.getHost() == null || uri.getQuery() != null
        || uri.getFragment() != null || uri.getUserInfo() != null || uri.getPort() != -1) {
      throw new FarmException.InvalidInput("'" + BlobStore.shorten(value)
          + "' is not s3://bucket/prefix");
    }
    String path = uri.getPath() == null ? "" : uri.getPath();
    String prefix = path.replaceAll("^/+", "").replaceAll("/+$", "");
    return new S3Location(uri.getHost(), prefix);
  }

  /** The object key of a blob. */
  public String key(String sha256) {
    return prefix.isEmpty() ? sha256 : prefix + "/" + sha256;
  }

  @Override
  public String toString() {
    return "s3://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix);
  }
}
