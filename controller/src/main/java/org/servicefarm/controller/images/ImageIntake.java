package org.servicefarm.controller.images;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.servicefarm.controller.FarmException;
import org.servicefarm.controller.model.ImageRecord;

/**
 * Takes pre-constructed images in: a file on the controller's host, or bytes streamed by an
 * admin. Either way the bytes go into the image store first and the catalog row (READY) carries
 * their digest and size, so what agents fetch is exactly what was registered. A digest or size
 * the caller declared must match the bytes.
 */
public final class ImageIntake {
  private final ImageCatalog catalog;
  private final BlobStorage blobs;

  public ImageIntake(ImageCatalog catalog, BlobStorage blobs) {
    this.catalog = catalog;
    this.blobs = blobs;
  }

  /** The largest image the store takes. */
  public long maxImageBytes() {
    return blobs.maxBlobBytes();
  }

  /**
   * Copies the file into the store and registers it. {@code expectedSha256} may be null and
   * {@code expectedSize} negative when the caller did not declare them.
   */
  public ImageRecord registerFile(String name, String format, Path source, String expectedSha256,
      long expectedSize) {
    if (!source.isAbsolute()) {
      throw new FarmException.InvalidInput("source_path: '" + BlobStore.shorten(source.toString())
          + "' is not an absolute path");
    }
    if (!Files.isRegularFile(source)) {
      throw new FarmException.NotFound("source_path: " + BlobStore.shorten(source.toString())
          + " is not a file on the controller's host");
    }
    catalog.checkNameFree(name);
    BlobStore.BlobInfo blob = blobs.copyIn(source, expectedSha256, expectedSize);
    return catalog.register(name, blob.sha256(), blob.sizeBytes(), format, source.toString());
  }

  /** Starts an upload of {@code sizeBytes} bytes; the name is checked now, and again at the end. */
  public Upload beginUpload(String name, String format, long sizeBytes, String expectedSha256) {
    if (sizeBytes < 1 || sizeBytes > blobs.maxBlobBytes()) {
      throw new FarmException.InvalidInput("size_bytes: " + sizeBytes
          + " is out of range (1 to " + blobs.maxBlobBytes() + ")");
    }
    catalog.checkNameFree(name);
    return new Upload(name, format, blobs.writer(expectedSha256, sizeBytes));
  }

  /** An image arriving in pieces; {@link #close} without {@link #finish} discards it. */
  public final class Upload implements AutoCloseable {
    private final String name;
    private final String format;
    private final BlobWriter writer;

    private Upload(String name, String format, BlobWriter writer) {
      this.name = name;
      this.format = format;
      this.writer = writer;
    }

    public void write(ByteBuffer bytes) {
      writer.write(bytes);
    }

    /** Verifies and stores the bytes, then registers the image. */
    public ImageRecord finish() {
      BlobStore.BlobInfo blob = writer.finish();
      return catalog.register(name, blob.sha256(), blob.sizeBytes(), format, null);
    }

    @Override
    public void close() {
      writer.abort();
    }
  }
}
