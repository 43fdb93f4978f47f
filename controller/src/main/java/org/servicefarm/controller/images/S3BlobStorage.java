package org.servicefarm.controller.images;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Optional;
import java.util.logging.Logger;
import org.servicefarm.controller.model.FarmException;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * Blobs in an S3-compatible object store, shared by every controller of a farm: a controller
 * that takes over leadership restores what another archived. Each blob is the object
 * {@code <prefix>/<sha256>}.
 *
 * <p>Every blob passes through a local directory ({@code <data-dir>/blob-cache}) on its way:
 * a blob being written is complete and its digest checked there before it is uploaded (in one
 * PUT, or as a multipart upload that becomes visible only once every part arrived, each checked
 * by its Content-MD5), and it enters the local directory only once the store holds it. A blob
 * read is downloaded into the local directory and its digest checked before the first byte is
 * served, so a damaged object is refused instead of passed on. The local directory is a cache:
 * every blob in it is also in the store, and emptying it loses nothing.
 */
public final class S3BlobStorage implements BlobStorage {
  private static final Logger LOG = Logger.getLogger(S3BlobStorage.class.getName());
  private static final int DOWNLOAD_LOCKS = 64;

  private final S3Client s3;
  private final S3Location location;
  private final String where;
  private final S3Uploads uploads;
  private final BlobStore cache;
  private final Object[] downloadLocks = new Object[DOWNLOAD_LOCKS];

  /**
   * @param s3 the store's client; closed with this storage
   * @param cacheDir the local directory blobs pass through
   * @param where the store as messages name it (endpoint and location)
   */
  public S3BlobStorage(S3Client s3, S3Location location, Path cacheDir, long maxBlobBytes,
      long quotaBytes, String where) {
    this.s3 = s3;
    this.location = location;
    this.where = where;
    this.uploads = new S3Uploads(s3, location);
    this.cache = BlobStore.inDirectory(cacheDir, maxBlobBytes, quotaBytes,
        this::uploadUnlessStored);
    for (int i = 0; i < DOWNLOAD_LOCKS; i++) {
      downloadLocks[i] = new Object();
    }
  }

  /** Connects to the store and checks that the bucket is there, before the controller serves. */
  public static S3BlobStorage open(S3ClientSettings settings, S3Location location, Path cacheDir,
      long maxBlobBytes, long quotaBytes) {
    S3Client s3 = settings.newClient();
    String where = location + " at " + settings.describe();
    try {
      s3.headBucket(b -> b.bucket(location.bucket()));
    } catch (SdkException e) {
      s3.close();
      throw new IllegalArgumentException("cannot use the blob store " + where + ": "
          + (e instanceof S3Exception s && s.statusCode() == 404
              ? "bucket " + location.bucket() + " does not exist" : e.getMessage()), e);
    }
    LOG.info("blob store: " + where + ", local copies in " + cacheDir);
    return new S3BlobStorage(s3, location, cacheDir, maxBlobBytes, quotaBytes, where);
  }

  @Override
  public long maxBlobBytes() {
    return cache.maxBlobBytes();
  }

  @Override
  public Optional<BlobStore.BlobInfo> stat(String sha256) {
    Optional<BlobStore.BlobInfo> local = cache.stat(sha256);
    if (local.isPresent()) {
      return local;
    }
    return head(sha256).map(h -> new BlobStore.BlobInfo(sha256, h.contentLength()));
  }

  @Override
  public FileChannel openAt(String sha256, long offset) {
    if (cache.stat(sha256).isEmpty()) {
      download(sha256);
    }
    return cache.openAt(sha256, offset);
  }

  @Override
  public java.util.List<StoredBlob> list() {
    String prefix = location.key("");
    java.util.List<StoredBlob> blobs = new java.util.ArrayList<>();
    try {
      s3.listObjectsV2Paginator(b -> b.bucket(location.bucket()).prefix(prefix)).contents()
          .forEach(object -> {
            String name = object.key().substring(prefix.length());
            if (name.matches("[0-9a-f]{64}")) {
              blobs.add(new StoredBlob(name, object.size(), object.lastModified()));
            }
          });
    } catch (SdkException e) {
      throw unavailable("cannot list the blobs", e);
    }
    return blobs;
  }

  @Override
  public boolean delete(String sha256) {
    boolean stored = head(sha256).isPresent();
    try {
      s3.deleteObject(b -> b.bucket(location.bucket()).key(location.key(sha256)));
    } catch (SdkException e) {
      throw unavailable("cannot delete blob " + sha256, e);
    }
    return cache.delete(sha256) || stored;
  }

  @Override
  public BlobWriter writer(String expectedSha256, long expectedSize) {
    return cache.writer(expectedSha256, expectedSize);
  }

  @Override
  public BlobStore.BlobInfo put(InputStream in, String expectedSha256, long expectedSize) {
    return cache.put(in, expectedSha256, expectedSize);
  }

  @Override
  public BlobStore.BlobInfo put(InputStream in, String expectedSha256, long expectedSize,
      BlobWriter.ContentCheck check) {
    return cache.put(in, expectedSha256, expectedSize, check);
  }

  @Override
  public BlobStore.BlobInfo copyIn(Path source, String expectedSha256, long expectedSize) {
    return cache.copyIn(source, expectedSha256, expectedSize);
  }

  @Override
  public BlobStore.BlobInfo adopt(Path file) {
    return cache.adopt(file);
  }

  @Override
  public void close() {
    s3.close();
  }

  /**
   * Runs on a complete local file whose digest is checked, before it enters the local directory:
   * blobs are written once, so one the store already holds (a repeated upload, a download being
   * cached) is not sent again.
   */
  private void uploadUnlessStored(Path file, String sha256) throws IOException {
    long size = java.nio.file.Files.size(file);
    Optional<HeadObjectResponse> stored = head(sha256);
    if (stored.isPresent() && stored.get().contentLength() == size) {
      return;
    }
    try {
      uploads.upload(file, sha256, size);
    } catch (SdkException e) {
      throw unavailable("cannot upload blob " + sha256, e);
    }
  }

  /** Copies the object into the local directory, checking its length and digest on the way. */
  private void download(String sha256) {
    cache.pathOf(sha256); // the name is a digest, so never a path or another key
    synchronized (downloadLocks[Math.floorMod(sha256.hashCode(), DOWNLOAD_LOCKS)]) {
      if (cache.stat(sha256).isPresent()) {
        return; // another fetch of the same blob just brought it
      }
      ResponseInputStream<GetObjectResponse> object;
      try {
        object = s3.getObject(b -> b.bucket(location.bucket()).key(location.key(sha256)));
      } catch (S3Exception e) {
        if (e.statusCode() == 404) {
          throw new FarmException.NotFound("blob " + sha256 + " is not in the image store ("
              + location + ")");
        }
        throw unavailable("cannot read blob " + sha256, e);
      } catch (SdkException e) {
        throw unavailable("cannot read blob " + sha256, e);
      }
      try (object) {
        long length = object.response().contentLength();
        cache.put(object, sha256, length);
      } catch (FarmException.InvalidInput damaged) {
        // The writer refused the bytes: they do not hash to the object's name, or are too many.
        throw new FarmException.Unavailable("blob " + sha256 + " in " + location
            + " is damaged and was not served: " + damaged.getMessage());
      } catch (IOException | SdkException e) {
        throw unavailable("cannot read blob " + sha256, e);
      }
    }
  }

  private Optional<HeadObjectResponse> head(String sha256) {
    String key = location.key(sha256);
    cache.pathOf(sha256); // the name is a digest, so never a path or another key
    try {
      return Optional.of(s3.headObject(b -> b.bucket(location.bucket()).key(key)));
    } catch (S3Exception e) {
      if (e.statusCode() == 404) {
        return Optional.empty();
      }
      throw unavailable("cannot look up blob " + sha256, e);
    } catch (SdkException e) {
      throw unavailable("cannot look up blob " + sha256, e);
    }
  }

  private FarmException unavailable(String what, Exception cause) {
    FarmException failure = new FarmException.Unavailable(what + " in the blob store " + where
        + ": " + cause.getMessage());
    failure.initCause(cause);
    LOG.warning(failure.getMessage());
    return failure;
  }
}
