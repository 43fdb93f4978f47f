package org.servicefarm.controller.images;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedPart;

/**
 * Uploads one complete local file as an object that appears whole or not at all: up to
 * {@link #PART_BYTES} in a single PUT, larger ones as a multipart upload, which the store shows
 * only once it is completed (and aborts when a part fails). Every request carries the
 * Content-MD5 of its bytes, so the store refuses bytes damaged on the way.
 */
final class S3Uploads {
  private static final Logger LOG = Logger.getLogger(S3Uploads.class.getName());
  /** Bytes per part: S3 takes at most 10,000 parts, so up to 640 GiB per blob. */
  static final long PART_BYTES = 64L << 20;

  private final S3Client s3;
  private final S3Location location;
  private final long partBytes;

  S3Uploads(S3Client s3, S3Location location) {
    this(s3, location, PART_BYTES);
  }

  /** With smaller parts, for tests (S3 requires 5 MiB or more for all parts but the last). */
  S3Uploads(S3Client s3, S3Location location, long partBytes) {
    this.s3 = s3;
    this.location = location;
    this.partBytes = partBytes;
  }

  void upload(Path file, String sha256, long size) throws IOException {
    String key = location.key(sha256);
    if (size <= partBytes) {
      String md5 = md5(file, 0, size);
      s3.putObject(b -> b.bucket(location.bucket()).key(key).contentLength(size)
              .contentMD5(md5),
          RequestBody.fromContentProvider(range(file, 0, size), size,
              "application/octet-stream"));
      return;
    }
    String uploadId = s3.createMultipartUpload(b -> b.bucket(location.bucket()).key(key)
        .contentType("application/octet-stream")).uploadId();
    try {
      List<CompletedPart> parts = new ArrayList<>();
      for (long offset = 0; offset < size; offset += partBytes) {
        long length = Math.min(partBytes, size - offset);
        int number = parts.size() + 1;
        String md5 = md5(file, offset, length);
        String etag = s3.uploadPart(b -> b.bucket(location.bucket()).key(key)
                .uploadId(uploadId).partNumber(number).contentLength(length).contentMD5(md5),
            RequestBody.fromContentProvider(range(file, offset, length), length,
                "application/octet-stream")).eTag();
        parts.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
      }
      s3.completeMultipartUpload(b -> b.bucket(location.bucket()).key(key).uploadId(uploadId)
          .multipartUpload(m -> m.parts(parts)));
    } catch (IOException | RuntimeException e) {
      abort(key, uploadId, e);
      throw e;
    }
  }

  /** Drops the unfinished upload's parts; the object never appeared. */
  private void abort(String key, String uploadId, Exception why) {
    try {
      s3.abortMultipartUpload(b -> b.bucket(location.bucket()).key(key).uploadId(uploadId));
    } catch (SdkException e) {
      // The upload failed either way; a store's lifecycle rule removes parts left behind.
      LOG.log(Level.WARNING, "cannot abort the multipart upload of " + key + " after " + why, e);
      why.addSuppressed(e);
    }
  }

  /** The bytes of [offset, offset + length) of the file, opened afresh for each attempt. */
  private static ContentStreamProvider range(Path file, long offset, long length) {
    return () -> {
      try {
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ).position(offset);
        return new BoundedStream(Channels.newInputStream(channel), length);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + file, e);
      }
    };
  }

  private static String md5(Path file, long offset, long length) throws IOException {
    MessageDigest md5;
    try {
      md5 = MessageDigest.getInstance("MD5");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK always has MD5", e);
    }
    byte[] buffer = new byte[1 << 20];
    try (InputStream in = range(file, offset, length).newStream()) {
      for (int n; (n = in.read(buffer)) >= 0; ) {
        md5.update(buffer, 0, n);
      }
    }
    return Base64.getEncoder().encodeToString(md5.digest());
  }

  /** At most {@code remaining} bytes of a stream; closing it closes the stream. */
  private static final class BoundedStream extends InputStream {
    private final InputStream in;
    private long remaining;

    BoundedStream(InputStream in, long remaining) {
      this.in = in;
      this.remaining = remaining;
    }

    @Override
    public int read() throws IOException {
      if (remaining <= 0) {
        return -1;
      }
      int b = in.read();
      if (b >= 0) {
        remaining--;
      }
      return b;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
      if (remaining <= 0) {
        return -1;
      }
      int n = in.read(buffer, offset, (int) Math.min(length, remaining));
      if (n > 0) {
        remaining -= n;
      }
      return n;
    }

    @Override
    public void close() throws IOException {
      in.close();
    }
  }
}
