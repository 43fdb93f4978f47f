package org.servicefarm.controller.images;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import org.servicefarm.controller.model.FarmException;

/**
 * The controller's content-addressed store in a local directory: each blob (base image, kernel,
 * initrd, archived disk) is the file {@code <dataDir>/blobs/<sha256>}. A blob is written to a
 * temporary file while its bytes are hashed, checked against what the writer declared, flushed to
 * disk, and only then renamed into place, so a blob that exists is always complete and matches
 * its name. {@link S3BlobStorage} keeps its local copies in one of these too.
 */
public final class BlobStore implements BlobStorage {
  private static final Logger LOG = Logger.getLogger(BlobStore.class.getName());
  public static final long DEFAULT_MAX_BLOB_BYTES = 16L << 30;
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
  private static final String PART_SUFFIX = ".part";
  // Older partial files are left over from a controller that died mid-write.
  private static final Duration ABANDONED_AFTER = Duration.ofHours(1);
  private static final int COPY_BUFFER = 1 << 20;
  private static final long MIB = 1 << 20;

  /** A stored blob: its name and length. */
  public record BlobInfo(String sha256, long sizeBytes) {}

  /** Runs on a complete, verified blob file before the blob becomes visible in the directory. */
  @FunctionalInterface
  public interface BeforePublish {
    void accept(Path file, String sha256) throws IOException;
  }

  private final Path root;
  private final Path incoming;
  private final long maxBlobBytes;
  private final BeforePublish beforePublish;
  private final long quotaBytes;

  public BlobStore(Path dataDir) {
    this(dataDir, DEFAULT_MAX_BLOB_BYTES);
  }

  public BlobStore(Path dataDir, long maxBlobBytes) {
    this(dataDir, maxBlobBytes, ImageSettings.DEFAULT_STORE_QUOTA_BYTES);
  }

  /** @param quotaBytes what every blob together may take; a blob that would pass it is refused */
  public BlobStore(Path dataDir, long maxBlobBytes, long quotaBytes) {
    this(dataDir.resolve("blobs"), maxBlobBytes, quotaBytes, (file, sha256) -> { });
  }

  /** A store whose blobs are the files of {@code directory} itself. */
  public static BlobStore inDirectory(Path directory, long maxBlobBytes, long quotaBytes,
      BeforePublish beforePublish) {
    return new BlobStore(directory, maxBlobBytes, quotaBytes, beforePublish);
  }

  private BlobStore(Path root, long maxBlobBytes, long quotaBytes, BeforePublish beforePublish) {
    if (maxBlobBytes <= 0 || quotaBytes <= 0) {
      throw new IllegalArgumentException("maxBlobBytes and quotaBytes must be positive, not "
          + maxBlobBytes + " and " + quotaBytes);
    }
    this.root = root;
    this.incoming = root.resolve(".incoming");
    this.maxBlobBytes = maxBlobBytes;
    this.beforePublish = beforePublish;
    this.quotaBytes = quotaBytes;
    try {
      PrivatePaths.directory(root);
      PrivatePaths.directory(incoming);
      removeAbandonedParts();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot prepare the blob store in " + root, e);
    }
  }

  @Override
  public long maxBlobBytes() {
    return maxBlobBytes;
  }

  public long quotaBytes() {
    return quotaBytes;
  }

  /** Bytes the store holds now, blobs being written included. */
  public long usedBytes() {
    try (var files = Files.walk(root, 2)) {
      return files.filter(Files::isRegularFile).mapToLong(BlobStore::sizeOrZero).sum();
    } catch (IOException e) {
      throw ioFailure("cannot measure the image store in " + root, e);
    } catch (UncheckedIOException e) {
      throw ioFailure("cannot measure the image store in " + root, e.getCause());
    }
  }

  private static long sizeOrZero(Path file) {
    try {
      return Files.size(file);
    } catch (IOException e) {
      return 0; // removed while counting (a finished or aborted write): it holds nothing now
    }
  }

  /** The blob's name and length, or empty when the store does not hold it. */
  @Override
  public Optional<BlobInfo> stat(String sha256) {
    Path file = pathOf(sha256);
    try {
      return Optional.of(new BlobInfo(sha256, Files.size(file)));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      throw ioFailure("cannot read blob " + sha256, e);
    }
  }

  /**
   * Opens the blob for reading from {@code offset}; the caller closes the channel. An unknown
   * digest is NotFound; an offset past the end is InvalidInput.
   */
  @Override
  public FileChannel openAt(String sha256, long offset) {
    Path file = pathOf(sha256);
    try {
      FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
      long size = channel.size();
      if (offset < 0 || offset > size) {
        channel.close();
        throw new FarmException.InvalidInput("offset: " + offset + " is outside blob " + sha256
            + " of " + size + " bytes");
      }
      return channel.position(offset);
    } catch (NoSuchFileException e) {
      throw new FarmException.NotFound("blob " + sha256 + " is not in the image store");
    } catch (IOException e) {
      throw ioFailure("cannot read blob " + sha256, e);
    }
  }

  /** Removes the blob; false when it was not there. */
  @Override
  public java.util.List<StoredBlob> list() {
    java.util.List<StoredBlob> blobs = new java.util.ArrayList<>();
    try (java.util.stream.Stream<Path> files = Files.list(root)) {
      for (Path file : files.toList()) {
        String name = file.getFileName().toString();
        if (!name.matches("[0-9a-f]{64}")) {
          continue; // .incoming and anything not a blob
        }
        try {
          java.nio.file.attribute.BasicFileAttributes a = Files.readAttributes(file,
              java.nio.file.attribute.BasicFileAttributes.class);
          blobs.add(new StoredBlob(name, a.size(), a.lastModifiedTime().toInstant()));
        } catch (NoSuchFileException e) {
          continue; // deleted while listed
        }
      }
    } catch (IOException e) {
      throw ioFailure("cannot list the image store " + root, e);
    }
    return blobs;
  }

  @Override
  public boolean delete(String sha256) {
    try {
      return Files.deleteIfExists(pathOf(sha256));
    } catch (IOException e) {
      throw ioFailure("cannot delete blob " + sha256, e);
    }
  }

  /**
   * Starts writing a blob whose bytes arrive piece by piece. {@code expectedSha256} may be null
   * (the bytes name the blob) and {@code expectedSize} negative (any length up to the maximum).
   */
  @Override
  public BlobWriter writer(String expectedSha256, long expectedSize) {
    if (expectedSha256 != null) {
      pathOf(expectedSha256);
    }
    if (expectedSize > maxBlobBytes) {
      throw new FarmException.InvalidInput("size_bytes: " + expectedSize
          + " is more than the image store takes (" + maxBlobBytes + " bytes)");
    }
    // Checked when each write starts: concurrent writes may pass the quota by what they carry.
    long room = quotaBytes - usedBytes();
    if (expectedSize > room) {
      throw new FarmException.NoCapacity("the image store is full: it holds " + (quotaBytes
          - Math.max(room, 0)) + " bytes of its quota of " + quotaBytes + ", and size_bytes "
          + expectedSize + " does not fit; delete images or raise --image-store-quota-gb");
    }
    Path part = incoming.resolve(UUID.randomUUID() + PART_SUFFIX);
    try {
      return new BlobWriter(this, part, expectedSha256, expectedSize, room);
    } catch (IOException e) {
      throw ioFailure("cannot create a blob in " + incoming, e);
    }
  }

  /** Stores everything {@code in} yields; a mismatch with what was declared stores nothing. */
  @Override
  public BlobInfo put(InputStream in, String expectedSha256, long expectedSize) {
    return put(in, expectedSha256, expectedSize, BlobWriter.ContentCheck.NONE);
  }

  @Override
  public BlobInfo put(InputStream in, String expectedSha256, long expectedSize,
      BlobWriter.ContentCheck check) {
    try (BlobWriter writer = writer(expectedSha256, expectedSize)) {
      byte[] buffer = new byte[COPY_BUFFER];
      for (int n; (n = in.read(buffer)) >= 0; ) {
        writer.write(ByteBuffer.wrap(buffer, 0, n));
      }
      return writer.finish(check);
    } catch (IOException e) {
      throw ioFailure("cannot read the bytes for a blob", e);
    }
  }

  /**
   * Copies a file into the store, hashing it on the way. A copy rather than a hard link: the
   * source stays the owner's to edit in place, and an edit must not change a stored blob.
   */
  @Override
  public BlobInfo copyIn(Path source, String expectedSha256, long expectedSize) {
    try (InputStream in = Files.newInputStream(source)) {
      return put(in, expectedSha256, expectedSize);
    } catch (NoSuchFileException e) {
      throw new FarmException.NotFound("file " + source + " does not exist");
    } catch (IOException e) {
      throw ioFailure("cannot read " + source, e);
    }
  }

  /**
   * Moves a file the caller owns and will not touch again (a build's output) into the store:
   * hashed once, then renamed when it lies on the store's file system, copied otherwise.
   */
  @Override
  public BlobInfo adopt(Path file) {
    String sha256;
    long size;
    try {
      size = Files.size(file);
      if (size > maxBlobBytes) {
        throw new FarmException.InvalidInput(file + " has " + size
            + " bytes, more than the image store takes (" + maxBlobBytes + " bytes)");
      }
      sha256 = Sha256.ofFile(file);
    } catch (IOException e) {
      throw ioFailure("cannot read " + file, e);
    }
    // A build's output counts against the quota like an upload; one already stored costs nothing.
    long room = quotaBytes - usedBytes();
    if (size > room && !Files.exists(pathOf(sha256))) {
      throw new FarmException.NoCapacity("the image store is full: it holds "
          + (quotaBytes - Math.max(room, 0)) + " bytes of its quota of " + quotaBytes
          + ", and the built layer of " + size + " bytes does not fit; collect unreferenced"
          + " blobs (farmctl image gc) or raise --image-store-quota-gb");
    }
    try {
      Path part = incoming.resolve(UUID.randomUUID() + PART_SUFFIX);
      Files.move(file, part, StandardCopyOption.ATOMIC_MOVE);
      try (FileChannel channel = FileChannel.open(part, StandardOpenOption.WRITE)) {
        channel.force(true);
      }
      try {
        publish(part, sha256);
      } catch (IOException | RuntimeException e) {
        Files.deleteIfExists(part);
        throw e;
      }
      return new BlobInfo(sha256, size);
    } catch (AtomicMoveNotSupportedException e) {
      // Another file system: copying verifies the digest again as it goes.
      return copyIn(file, sha256, size);
    } catch (IOException e) {
      throw ioFailure("cannot move " + file + " into the image store", e);
    }
  }

  /** Renames a complete, flushed file into place; an existing blob of that name is identical. */
  void publish(Path part, String sha256) throws IOException {
    beforePublish.accept(part, sha256);
    // Served over gRPC to agents and admins only: no other local account reads blobs (archives
    // are VMs' disks), and a kernel adopted from a root file system may arrive with any mode.
    PrivatePaths.file(part);
    Files.move(part, pathOf(sha256), StandardCopyOption.ATOMIC_MOVE,
        StandardCopyOption.REPLACE_EXISTING);
    // The rename itself must survive a crash too.
    try (FileChannel dir = FileChannel.open(root, StandardOpenOption.READ)) {
      dir.force(true);
    }
  }

  /** The file of a blob, after checking that the name is a digest (so never a path). */
  Path pathOf(String sha256) {
    if (sha256 == null || !SHA256.matcher(sha256).matches()) {
      throw new FarmException.InvalidInput("sha256: '" + shorten(sha256)
          + "' is not a digest (64 lowercase hex digits)");
    }
    return root.resolve(sha256);
  }

  /**
   * A write into the store that failed: a full file system is refused as such (RESOURCE_EXHAUSTED)
   * with the file, how far it got and the file system's free and total space; the partial file
   * is already gone when this is read, and the same upload succeeds once there is room.
   */
  static FarmException writeFailure(Path file, long writtenBytes, IOException e) {
    if (!isNoSpace(e)) {
      return ioFailure("cannot write " + file, e);
    }
    String room = "";
    try {
      FileStore fs = Files.getFileStore(file.getParent());
      room = "; its file system has " + fs.getUsableSpace() / MIB + " MiB free of "
          + fs.getTotalSpace() / MIB + " MiB";
    } catch (IOException unknown) {
      e.addSuppressed(unknown); // the refusal still says where and how far
    }
    LOG.log(Level.WARNING, "the image store's disk is full", e);
    FarmException full = new FarmException.NoCapacity("the image store's disk is full: writing "
        + file + " failed after " + writtenBytes / MIB + " MiB (" + e.getMessage() + ")" + room
        + "; nothing was stored, and the same upload succeeds once there is room");
    full.initCause(e);
    return full;
  }

  /** ENOSPC or EDQUOT: Java gives the system's message, not the error number. */
  static boolean isNoSpace(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      String message = String.valueOf(t.getMessage());
      if (message.contains("No space left on device") || message.contains("Disk quota exceeded")) {
        return true;
      }
    }
    return false;
  }

  public static FarmException ioFailure(String what, IOException e) {
    LOG.log(Level.WARNING, what, e);
    FarmException failure = new FarmException.Unavailable(what + ": " + e.getMessage());
    failure.initCause(e);
    return failure;
  }

  private void removeAbandonedParts() throws IOException {
    Instant cutoff = Instant.now().minus(ABANDONED_AFTER);
    try (DirectoryStream<Path> parts = Files.newDirectoryStream(incoming, "*" + PART_SUFFIX)) {
      for (Path part : parts) {
        if (Files.getLastModifiedTime(part).toInstant().isBefore(cutoff)) {
          LOG.info("removing the abandoned partial blob " + part);
          Files.deleteIfExists(part);
        }
      }
    }
  }

  /** The value as it can be shown back: bounded, control characters escaped. */
  static String shorten(String value) {
    if (value == null) {
      return "";
    }
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < Math.min(value.length(), 80); i++) {
      char c = value.charAt(i);
      out.append(c < 0x20 || c == 0x7f ? String.format("\\x%02x", (int) c) : String.valueOf(c));
    }
    return value.length() > 80 ? out + "…(" + value.length() + " characters)" : out.toString();
  }
}
