package org.servicefarm.agent.images;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import org.servicefarm.api.v1.BlobChunk;
import org.servicefarm.api.v1.BlobInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves whole blobs between this host and the controller's image store, surviving cut streams:
 * a download resumes from what its partial file already holds, an upload starts again (PutBlob
 * has no offset). Retries are bounded: a transfer fails after {@link #MAX_ATTEMPTS} attempts in a
 * row that moved no bytes, waiting longer after each.
 *
 * <p>Local disk failures come out as IOException (the host's problem); the store's refusals,
 * unreachable stores and digest mismatches as {@link ImageException}.
 */
public final class BlobTransfers {

  private static final Logger log = LoggerFactory.getLogger(BlobTransfers.class);

  static final int MAX_ATTEMPTS = 5;
  private static final Duration MAX_RETRY_DELAY = Duration.ofSeconds(5);
  /** Status codes that say "try again", not "this will never work". */
  private static final Set<Status.Code> RETRYABLE = Set.of(Status.Code.UNAVAILABLE,
      Status.Code.DEADLINE_EXCEEDED, Status.Code.ABORTED, Status.Code.RESOURCE_EXHAUSTED,
      Status.Code.INTERNAL, Status.Code.UNKNOWN);

  private final ImageStoreClient store;
  private final Duration firstRetryDelay;

  public BlobTransfers(ImageStoreClient store) {
    this(store, Duration.ofMillis(200));
  }

  BlobTransfers(ImageStoreClient store, Duration firstRetryDelay) {
    this.store = store;
    this.firstRetryDelay = firstRetryDelay;
  }

  /**
   * Fetches the blob into {@code partial}, resuming from the bytes the file already holds, then
   * checks its digest (and its size, when {@code expectedSize} is positive). On return the file
   * holds exactly the blob; on a mismatch it is deleted.
   *
   * @param what the blob in words for errors, such as "image static-web (disk)"
   */
  public void download(BlobDigest digest, long expectedSize, Path partial, String what)
      throws ImageException, IOException {
    download(digest, expectedSize, partial, what, TransferProgress.NONE);
  }

  /** {@link #download(BlobDigest, long, Path, String)}, telling {@code listener} each chunk. */
  public void download(BlobDigest digest, long expectedSize, Path partial, String what,
      TransferProgress listener) throws ImageException, IOException {
    int fruitless = 0;
    StreamedDigest hashed = new StreamedDigest();
    while (true) {
      long offset = Files.exists(partial) ? Files.size(partial) : 0;
      if (expectedSize > 0 && offset > expectedSize) {
        log.warn("{}: partial file {} is longer than the blob; fetching it afresh", what, partial);
        Files.delete(partial);
        offset = 0;
      }
      if (expectedSize > 0 && offset == expectedSize) {
        break; // everything arrived before an earlier attempt ended
      }
      hashed.catchUp(partial, offset);
      Progress progress = new Progress(offset, expectedSize, what, hashed);
      String cut;
      try (FileChannel out = FileChannel.open(partial, StandardOpenOption.CREATE,
          StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
        store.fetch(digest, offset, chunk -> {
          progress.append(out, chunk);
          listener.transferred(progress.position, Math.max(progress.total, expectedSize));
        });
        if (progress.complete()) {
          break;
        }
        cut = "the stream ended at byte " + progress.position + " of " + progress.total;
      } catch (StatusRuntimeException e) {
        Status.Code code = e.getStatus().getCode();
        if (code == Status.Code.NOT_FOUND) {
          Files.deleteIfExists(partial);
          throw new ImageException(what + ": blob " + digest
              + " is not in the controller's image store", e);
        }
        if (code == Status.Code.OUT_OF_RANGE && offset > 0) {
          break; // the partial file already reaches the blob's end (or beyond): verify it
        }
        if (!RETRYABLE.contains(code)) {
          throw new ImageException("fetching " + what + " (" + digest + ") failed: "
              + describe(e.getStatus()), e);
        }
        cut = describe(e.getStatus());
      }
      fruitless = progress.position > offset ? 1 : fruitless + 1;
      if (fruitless >= MAX_ATTEMPTS) {
        throw new ImageException("fetching " + what + " (" + digest + ") failed "
            + fruitless + " times in a row without progress; last: " + cut);
      }
      Duration delay = retryDelay(fruitless);
      log.info("fetch of {} cut at byte {} ({}); resuming in {} ms", what, progress.position,
          cut, delay.toMillis());
      pause(delay);
    }
    verify(digest, expectedSize, partial, what, hashed);
  }

  /**
   * Uploads the file as a blob, unless the store holds it already, and returns its digest. The
   * digest is computed first: the store checks the bytes against it.
   */
  public BlobDigest upload(Path file, String what) throws ImageException, IOException {
    BlobDigest digest = BlobDigest.of(file);
    long size = Files.size(file);
    for (int attempt = 1; ; attempt++) {
      try {
        Optional<BlobInfo> stored = store.stat(digest);
        if (stored.isPresent() && stored.get().getSizeBytes() == size) {
          return digest; // uploaded before (a repeated archive): nothing to send
        }
        BlobInfo info = store.put(digest, size, file);
        if (!info.getSha256().equals(digest.hex())) {
          throw new ImageException("the image store stored " + what + " as " + info.getSha256()
              + " but its bytes hash to " + digest);
        }
        return digest;
      } catch (StatusRuntimeException e) {
        if (!RETRYABLE.contains(e.getStatus().getCode()) || attempt >= MAX_ATTEMPTS) {
          throw new ImageException("uploading " + what + " (" + digest + ", " + size
              + " bytes) failed after " + attempt + " attempt(s): " + describe(e.getStatus()), e);
        }
        Duration delay = retryDelay(attempt);
        log.info("upload of {} failed ({}); trying again in {} ms", what,
            describe(e.getStatus()), delay.toMillis());
        pause(delay);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while uploading " + what);
      }
    }
  }

  /**
   * Checks the fetched file against the digest hashed while it was written (a file that was
   * complete before this call, or whose writing was cut, is hashed from its start).
   */
  private static void verify(BlobDigest expected, long expectedSize, Path file, String what,
      StreamedDigest hashed) throws ImageException, IOException {
    long size = Files.size(file);
    hashed.catchUp(file, size);
    BlobDigest actual = hashed.digest();
    if (!actual.equals(expected) || (expectedSize > 0 && size != expectedSize)) {
      Files.delete(file);
      throw new ImageException(what + " failed verification: the bytes received hash to sha256 "
          + actual + " (" + size + " bytes), not to the sha256 " + expected
          + (expectedSize > 0 ? " (" + expectedSize + " bytes)" : "") + " they were fetched by"
          + "; the blob was altered in transit or in the controller's store, and the fetched"
          + " bytes were deleted");
    }
  }

  private Duration retryDelay(int attempt) {
    Duration delay = firstRetryDelay.multipliedBy(1L << Math.min(attempt - 1, 10));
    return delay.compareTo(MAX_RETRY_DELAY) > 0 ? MAX_RETRY_DELAY : delay;
  }

  private static void pause(Duration delay) throws InterruptedIOException {
    try {
      Thread.sleep(delay.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting to retry a blob transfer");
    }
  }

  private static String describe(Status status) {
    return status.getCode() + (status.getDescription() == null ? "" : " " + status.getDescription());
  }

  /** Where a fetch stands: checks each chunk continues the bytes so far and appends it. */
  private static final class Progress {
    private final long expectedSize;
    private final String what;
    private final StreamedDigest hashed;
    long position;
    long total = -1; // unknown until the store says

    Progress(long offset, long expectedSize, String what, StreamedDigest hashed) {
      this.position = offset;
      this.expectedSize = expectedSize;
      this.what = what;
      this.hashed = hashed;
    }

    void append(FileChannel out, BlobChunk chunk) throws IOException, ImageException {
      if (chunk.getOffset() != position) {
        throw new ImageException("the image store sent " + what + " out of order: a chunk at"
            + " byte " + chunk.getOffset() + " where byte " + position + " was due");
      }
      if (chunk.getTotalSize() > 0) {
        if (expectedSize > 0 && chunk.getTotalSize() != expectedSize) {
          throw new ImageException("the image store holds " + what + " as "
              + chunk.getTotalSize() + " bytes, but the image is " + expectedSize + " bytes");
        }
        total = chunk.getTotalSize();
      }
      long end = position + chunk.getData().size();
      if (total >= 0 && end > total) {
        throw new ImageException("the image store sent " + what + " past its end ("
            + end + " of " + total + " bytes)");
      }
      ByteBuffer data = chunk.getData().asReadOnlyByteBuffer();
      while (data.hasRemaining()) {
        out.write(data);
      }
      hashed.update(chunk.getData().asReadOnlyByteBuffer(), end);
      position = end;
    }

    /** Whether the stream delivered the whole blob, as far as anyone said how long it is. */
    boolean complete() {
      long known = total >= 0 ? total : expectedSize;
      return known <= 0 || position >= known;
    }
  }
}
