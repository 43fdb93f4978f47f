package org.servicefarm.controller.images;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.controller.model.FarmException;

/**
 * One blob being written: bytes go to a temporary file and through the digest as they arrive;
 * {@link #finish} checks them against what the writer declared and renames the file into the
 * store. Anything else ({@link #close} without finishing, a refused write, a mismatch) deletes the
 * temporary file, so a refused blob leaves nothing behind.
 */
public final class BlobWriter implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(BlobWriter.class.getName());
  private final BlobStore store;
  private final Path part;
  private final String expectedSha256;
  private final long expectedSize;
  private final long room;
  private final FileChannel channel;
  private final MessageDigest digest = Sha256.newDigest();
  private long written;
  private boolean done;

  /** @param room what the store's quota leaves for this blob when it starts */
  BlobWriter(BlobStore store, Path part, String expectedSha256, long expectedSize, long room)
      throws IOException {
    this.store = store;
    this.part = part;
    this.expectedSha256 = expectedSha256;
    this.expectedSize = expectedSize;
    this.room = room;
    this.channel = FileChannel.open(part, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
  }

  /** Bytes written so far. */
  public long written() {
    return written;
  }

  /** Appends the buffer's bytes; more than declared, or than the store takes, is refused. */
  public void write(ByteBuffer bytes) {
    checkOpen();
    long after = written + bytes.remaining();
    if (expectedSize >= 0 && after > expectedSize) {
      abort();
      throw new FarmException.InvalidInput("size_bytes: declared " + expectedSize
          + " bytes, but more arrived (at least " + after + ")");
    }
    if (after > store.maxBlobBytes()) {
      abort();
      throw new FarmException.InvalidInput("blob is larger than the image store takes ("
          + store.maxBlobBytes() + " bytes)");
    }
    if (after > room) {
      abort();
      throw new FarmException.NoCapacity("the image store is full: its quota of "
          + store.quotaBytes() + " bytes leaves " + room + " for this blob, and more arrived");
    }
    digest.update(bytes.duplicate());
    try {
      while (bytes.hasRemaining()) {
        channel.write(bytes);
      }
    } catch (IOException e) {
      abort();
      throw BlobStore.writeFailure(part, written, e);
    }
    written = after;
  }

  /** What must hold of a blob's bytes before it is published; throws to refuse them. */
  @FunctionalInterface
  public interface ContentCheck {
    void check(Path bytes);

    ContentCheck NONE = bytes -> { };
  }

  /** Verifies length and digest, makes the bytes durable and publishes the blob. */
  public BlobStore.BlobInfo finish() {
    return finish(ContentCheck.NONE);
  }

  /**
   * As {@link #finish()}, publishing the blob only once {@code check} accepts its bytes; a
   * refusal discards them and is thrown.
   */
  public BlobStore.BlobInfo finish(ContentCheck check) {
    checkOpen();
    String actual = Sha256.hex(digest);
    if (expectedSize >= 0 && written != expectedSize) {
      abort();
      throw new FarmException.InvalidInput("size_bytes: declared " + expectedSize
          + " bytes, received " + written);
    }
    if (expectedSha256 != null && !expectedSha256.equals(actual)) {
      abort();
      throw new FarmException.InvalidInput("sha256: declared " + expectedSha256
          + " but the bytes hash to " + actual);
    }
    try {
      channel.force(true);
      channel.close();
      try {
        check.check(part);
      } catch (RuntimeException refused) {
        abort();
        throw refused;
      }
      store.publish(part, actual);
      done = true;
      return new BlobStore.BlobInfo(actual, written);
    } catch (IOException e) {
      abort();
      if (BlobStore.isNoSpace(e)) {
        throw BlobStore.writeFailure(part, written, e);
      }
      throw BlobStore.ioFailure("cannot store blob " + actual, e);
    }
  }

  /** Discards the partial blob; safe to call more than once. */
  public void abort() {
    if (done) {
      return;
    }
    done = true;
    try {
      channel.close();
    } catch (IOException e) {
      // Deleting the file below matters more than why closing it failed.
      LOG.log(Level.WARNING, "cannot close the partial blob " + part, e);
    }
    try {
      Files.deleteIfExists(part);
    } catch (IOException e) {
      throw BlobStore.ioFailure("cannot remove the partial blob " + part, e);
    }
  }

  @Override
  public void close() {
    abort();
  }

  private void checkOpen() {
    if (done) {
      throw new IllegalStateException("blob writer for " + part + " is already finished");
    }
  }
}
