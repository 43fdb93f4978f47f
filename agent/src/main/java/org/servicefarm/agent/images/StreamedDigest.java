package org.servicefarm.agent.images;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;

/**
 * The sha256 of a file being written, computed from the bytes as they are written, so a fetched
 * blob is verified without reading it back. It knows how many of the file's first bytes it has
 * hashed; when that is not where writing resumes (a partial file left by an earlier run, a write
 * cut halfway) it hashes the file's first bytes again from the start.
 */
final class StreamedDigest {
  private static final int BUFFER_BYTES = 1 << 16;

  private MessageDigest sha256 = BlobDigest.newSha256();
  private long hashedBytes;

  /** Makes the digest cover exactly {@code file}'s first {@code length} bytes. */
  void catchUp(Path file, long length) throws IOException {
    if (hashedBytes == length) {
      return;
    }
    sha256 = BlobDigest.newSha256();
    hashedBytes = 0;
    if (length == 0) {
      return;
    }
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buffer = new byte[BUFFER_BYTES];
      while (hashedBytes < length) {
        int n = in.read(buffer, 0, (int) Math.min(buffer.length, length - hashedBytes));
        if (n < 0) {
          throw new IOException(file + " ended at byte " + hashedBytes + " of " + length
              + " while it was being hashed");
        }
        sha256.update(buffer, 0, n);
        hashedBytes += n;
      }
    }
  }

  /** Adds bytes just written, after which the file holds {@code endOffset} bytes. */
  void update(ByteBuffer written, long endOffset) {
    sha256.update(written);
    hashedBytes = endOffset;
  }

  /** The digest of the bytes hashed; the digest starts afresh after this. */
  BlobDigest digest() {
    BlobDigest digest = BlobDigest.of(sha256);
    sha256 = BlobDigest.newSha256();
    hashedBytes = 0;
    return digest;
  }
}
