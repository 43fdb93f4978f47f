package org.servicefarm.controller.images;

import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where the farm's blobs live (composed images, uploads, archived disks), named by their SHA-256:
 * a local directory ({@link BlobStore}, for one machine) or an S3-compatible object store
 * ({@link S3BlobStorage}, shared by every controller). Blobs are written once; a blob that is
 * visible is complete and matches its name; a write cut halfway leaves nothing visible.
 */
public interface BlobStorage extends AutoCloseable {

  /** The largest blob the store takes, in bytes. */
  long maxBlobBytes();

  /** The blob's name and length, or empty when the store does not hold it. */
  Optional<BlobStore.BlobInfo> stat(String sha256);

  /**
   * Opens the blob for reading from {@code offset}, its bytes verified against its name; the
   * caller closes the channel. An unknown digest is NotFound; an offset past the end is
   * InvalidInput.
   */
  FileChannel openAt(String sha256, long offset);

  /** A stored blob and when it was stored (or last replaced). */
  record StoredBlob(String sha256, long sizeBytes, java.time.Instant storedAt) {}

  /** Every blob in the store, in no order. */
  java.util.List<StoredBlob> list();

  /** Removes the blob; false when it was not there. */
  boolean delete(String sha256);

  /**
   * Starts writing a blob whose bytes arrive piece by piece. {@code expectedSha256} may be null
   * (the bytes name the blob) and {@code expectedSize} negative (any length up to the maximum).
   */
  BlobWriter writer(String expectedSha256, long expectedSize);

  /** Stores everything {@code in} yields; a mismatch with what was declared stores nothing. */
  BlobStore.BlobInfo put(InputStream in, String expectedSha256, long expectedSize);

  /** As {@link #put(InputStream, String, long)}, storing the bytes only if {@code check} passes. */
  BlobStore.BlobInfo put(InputStream in, String expectedSha256, long expectedSize,
      BlobWriter.ContentCheck check);

  /** Copies a file into the store, hashing it on the way; the source stays the caller's. */
  BlobStore.BlobInfo copyIn(Path source, String expectedSha256, long expectedSize);

  /** Takes a file the caller will not touch again (a build's output) into the store. */
  BlobStore.BlobInfo adopt(Path file);

  /** Lets go of connections to the store; a local directory holds none. */
  @Override
  default void close() {}
}
