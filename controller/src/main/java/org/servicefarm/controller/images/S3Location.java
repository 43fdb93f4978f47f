package org.servicefarm.controller.images;

import java.util.regex.Pattern;
import org.servicefarm.controller.model.FarmException;

/**
 * A place in an S3-compatible object store, written {@code s3://bucket/prefix}: the bucket and
 * the key prefix under which the farm's blobs are the objects {@code <prefix>/<sha256>}.
 */
public record S3Location(String bucket, String prefix) {
  // S3's own rule for bucket names (3 to 63 lowercase letters, digits, dots and hyphens).
  private static final Pattern BUCKET = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");
  private static final String SCHEME = "s3://";

  public S3Location {
    if (!BUCKET.matcher(bucket).matches()) {
      throw new FarmException.InvalidInput("'" + BlobStore.shorten(bucket)
          + "' is not an S3 bucket name (3 to 63 lowercase letters, digits, dots, hyphens)");
    }
    if (prefix.startsWith("/") || prefix.endsWith("/") || prefix.contains("//")
        || prefix.chars().anyMatch(c -> c < 0x20 || c == 0x7f || c == '?' || c == '#')) {
      throw new FarmException.InvalidInput("'" + BlobStore.shorten(prefix)
          + "' is not a key prefix (no leading, trailing or doubled '/', no '?', '#' or"
          + " control characters)");
    }
  }

  /** Parses {@code s3://bucket} or {@code s3://bucket/prefix} (a trailing '/' is dropped). */
  public static S3Location parse(String value) {
    if (value == null || !value.startsWith(SCHEME)) {
      throw new FarmException.InvalidInput("'" + BlobStore.shorten(value)
          + "' is not s3://bucket/prefix");
    }
    String rest = value.substring(SCHEME.length());
    int slash = rest.indexOf('/');
    String bucket = slash < 0 ? rest : rest.substring(0, slash);
    String prefix = slash < 0 ? "" : rest.substring(slash + 1).replaceAll("/+$", "");
    return new S3Location(bucket, prefix);
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
