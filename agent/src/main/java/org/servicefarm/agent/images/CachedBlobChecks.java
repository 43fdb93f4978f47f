package org.servicefarm.agent.images;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether a cached blob still holds the bytes its name promises, checked before every use at
 * little cost. Each blob's digest is checked once when it enters the cache (by the transfer) or,
 * for a blob cached before this agent started, at its first use; the check records the file's
 * size, modification time and identity (device and inode). A later use compares only those: a
 * write to the file changes its modification time (and a replaced file its inode), so the blob
 * is hashed again only when something touched it outside the cache. The cache itself sets the
 * modification time on every use (its recency for eviction) and records the new time at once.
 *
 * <p>This stops accidental and ordinary changes (a disk error that rewrites blocks, a stray
 * write, a file replaced) without hashing gigabytes on every boot; someone with root on the host
 * who also resets the modification time is beyond what any check on that host can stop.
 */
final class CachedBlobChecks {
  private static final Logger log = LoggerFactory.getLogger(CachedBlobChecks.class);

  private record Stamp(long size, FileTime modified, Object fileKey) {}

  private final ConcurrentMap<String, Stamp> stamps = new ConcurrentHashMap<>();

  /** Records that {@code blob} holds {@code digest}'s bytes as the file is now. */
  void verified(BlobDigest digest, Path blob) throws IOException {
    stamps.put(digest.hex(), stamp(blob));
  }

  /**
   * Hashes the blob again unless its stamp is the one recorded when it was last verified.
   *
   * @throws ImageException naming the blob, its path and both digests when its bytes changed;
   *     the file is deleted, so the next attempt fetches it afresh
   */
  void requireIntact(BlobDigest digest, Path blob, String what)
      throws ImageException, IOException {
    Stamp recorded = stamps.get(digest.hex());
    if (recorded != null && recorded.equals(stamp(blob))) {
      return;
    }
    long started = System.nanoTime();
    BlobDigest actual = BlobDigest.of(blob);
    if (!actual.equals(digest)) {
      long size = Files.size(blob);
      stamps.remove(digest.hex());
      Files.delete(blob);
      throw new ImageException(what + " is refused: the cached copy " + blob + " no longer"
          + " matches sha256 " + digest + " (it hashes to " + actual + ", " + size + " bytes):"
          + " it was altered on this host's disk; it was deleted, and the next attempt fetches"
          + " it again");
    }
    stamps.put(digest.hex(), stamp(blob));
    log.info("re-verified cached {} ({}) in {} ms", what, digest,
        (System.nanoTime() - started) / 1_000_000);
  }

  private static Stamp stamp(Path blob) throws IOException {
    BasicFileAttributes attributes = Files.readAttributes(blob, BasicFileAttributes.class);
    return new Stamp(attributes.size(), attributes.lastModifiedTime(),
        Objects.requireNonNullElse(attributes.fileKey(), "no file key"));
  }
}
