package org.servicefarm.agent.images;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * The sha256 of a blob, as 64 lowercase hex digits: the name the controller's image store, the
 * image catalog and this host's cache all use for it. Archive references are the same digest
 * with a {@code sha256:} prefix, so people can tell them from paths.
 */
public record BlobDigest(String hex) {

  public static final String ARCHIVE_REF_PREFIX = "sha256:";
  private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");
  private static final int BUFFER_BYTES = 1 << 16;

  /** @throws IllegalArgumentException when {@code hex} is not 64 lowercase hex digits */
  public BlobDigest {
    if (hex == null || !HEX.matcher(hex).matches()) {
      throw new IllegalArgumentException(
          "'" + hex + "' is not a sha256 digest (64 lowercase hex digits)");
    }
  }

  /** Whether {@code text} is 64 lowercase hex digits. */
  public static boolean isDigest(String text) {
    return text != null && HEX.matcher(text).matches();
  }

  /**
   * Reads an archive reference made by {@link #archiveRef()}.
   *
   * @throws IllegalArgumentException naming the reference when it is not one
   */
  public static BlobDigest fromArchiveRef(String archiveRef) {
    if (archiveRef == null || !archiveRef.startsWith(ARCHIVE_REF_PREFIX)
        || !isDigest(archiveRef.substring(ARCHIVE_REF_PREFIX.length()))) {
      throw new IllegalArgumentException("archive ref '" + archiveRef + "' is not "
          + ARCHIVE_REF_PREFIX + "<64 lowercase hex digits>");
    }
    return new BlobDigest(archiveRef.substring(ARCHIVE_REF_PREFIX.length()));
  }

  /** {@code sha256:<hex>}, the form CommandResult.archive_ref carries. */
  public String archiveRef() {
    return ARCHIVE_REF_PREFIX + hex;
  }

  /** The digest of a file's bytes. */
  public static BlobDigest of(Path file) throws IOException {
    MessageDigest sha256 = newSha256();
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buffer = new byte[BUFFER_BYTES];
      for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
        sha256.update(buffer, 0, n);
      }
    }
    return of(sha256);
  }

  /** The digest a finished {@link MessageDigest} computed. */
  public static BlobDigest of(MessageDigest sha256) {
    return new BlobDigest(HexFormat.of().formatHex(sha256.digest()));
  }

  public static MessageDigest newSha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime must provide SHA-256", e);
    }
  }

  @Override
  public String toString() {
    return hex;
  }
}
