package org.servicefarm.controller.images;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Optional;
import org.servicefarm.controller.db.OciImageRepository.OciDefaults;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.ImageRecord;

/**
 * Takes pre-constructed images in: a file on the controller's host, or bytes streamed by an
 * admin. Either way the bytes go into the image store first and the catalog row (READY) carries
 * their digest and size, so what agents fetch is exactly what was registered. A digest or size
 * the caller declared must match the bytes, and the image's header must name no other file
 * ({@link ImageInspection}). An OCI image archive (format {@code oci}) is read and verified
 * instead ({@link OciArchive}, {@link OciLayers#check}), and registered with what its config
 * says to run and expose.
 *
 * <p>A file is read only from the import directory the operator configured, never through a
 * symbolic link and never a device or FIFO: an admin token must not read the controller's own
 * files (its environment under /proc holds the database password) into the store.
 */
public final class ImageIntake {
  /** As a definition's command may be (service_definitions.command). */
  private static final int MAX_COMMAND_CHARS = 4096;
  private final ImageCatalog catalog;
  private final BlobStorage blobs;
  private final Optional<Path> importDirectory;

  /** An intake that registers no file by path (uploads only). */
  public ImageIntake(ImageCatalog catalog, BlobStorage blobs) {
    this(catalog, blobs, Optional.empty());
  }

  /** @param importDirectory the only directory registered files may come from; empty: none */
  public ImageIntake(ImageCatalog catalog, BlobStorage blobs, Optional<Path> importDirectory) {
    this.catalog = catalog;
    this.blobs = blobs;
    this.importDirectory = importDirectory;
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
    return registerFile(name, format, source, expectedSha256, expectedSize, null);
  }

  /** As above, filed under {@code project} (null: every project may use it). */
  public ImageRecord registerFile(String name, String format, Path source, String expectedSha256,
      long expectedSize, String project) {
    if (importDirectory.isEmpty()) {
      throw new FarmException.Conflict("registering an image by path is off on this controller:"
          + " start it with --image-import-dir DIR and put the file in DIR, or upload the image"
          + " instead (farmctl image upload " + name + " FILE)");
    }
    if (!source.isAbsolute()) {
      throw new FarmException.InvalidInput("source_path: '" + BlobStore.shorten(source.toString())
          + "' is not an absolute path");
    }
    Path file = importable(source.normalize());
    catalog.checkNameFree(name);
    BlobStore.BlobInfo blob;
    Inspected inspected = new Inspected(name, format);
    // Opened without following a link, so a file swapped for one after the checks is not read.
    try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
      blob = blobs.put(in, expectedSha256, expectedSize, inspected);
    } catch (IOException e) {
      throw new FarmException.InvalidInput("source_path: " + shown(file) + " cannot be read"
          + " without following a link: " + e.getMessage());
    }
    if (inspected.oci != null) {
      return catalog.registerOci(name, blob.sha256(), blob.sizeBytes(), inspected.oci, project);
    }
    return catalog.register(name, blob.sha256(), blob.sizeBytes(), format, file.toString(),
        project);
  }

  /**
   * The file, once it is shown to be a regular file inside the import directory reached through
   * no symbolic link; otherwise a refusal saying which of these it is not.
   */
  private Path importable(Path file) {
    Path directory;
    try {
      directory = importDirectory.get().toRealPath();
    } catch (IOException e) {
      throw new FarmException.Unavailable("the import directory " + importDirectory.get()
          + " (--image-import-dir) cannot be read: " + e.getMessage());
    }
    if (!file.startsWith(directory) || file.equals(directory)) {
      throw new FarmException.InvalidInput("source_path: " + shown(file) + " is outside the"
          + " import directory " + directory + " (--image-import-dir); copy the image there");
    }
    BasicFileAttributes attributes;
    try {
      Path parent = file.getParent();
      if (!parent.toRealPath().equals(parent)) {
        throw new FarmException.InvalidInput("source_path: " + shown(file) + " is reached"
            + " through a symbolic link (" + parent + " is " + parent.toRealPath() + ");"
            + " images are read only from inside " + directory);
      }
      attributes = Files.readAttributes(file, BasicFileAttributes.class,
          LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      throw new FarmException.NotFound("source_path: " + shown(file)
          + " is not a file on the controller's host");
    } catch (IOException e) {
      throw new FarmException.InvalidInput("source_path: " + shown(file) + " cannot be read: "
          + e.getMessage());
    }
    if (attributes.isSymbolicLink()) {
      throw new FarmException.InvalidInput("source_path: " + shown(file) + " is a symbolic"
          + " link; the import directory takes only the image files themselves");
    }
    if (!attributes.isRegularFile()) {
      throw new FarmException.InvalidInput("source_path: " + shown(file) + " is not a regular"
          + " file (a directory, device, FIFO or socket)");
    }
    return file;
  }

  private static String shown(Path file) {
    return BlobStore.shorten(file.toString());
  }

  /** Starts an upload of {@code sizeBytes} bytes; the name is checked now, and again at the end. */
  public Upload beginUpload(String name, String format, long sizeBytes, String expectedSha256) {
    return beginUpload(name, format, sizeBytes, expectedSha256, null);
  }

  /** As above, filed under {@code project} (null: every project may use it). */
  public Upload beginUpload(String name, String format, long sizeBytes, String expectedSha256,
      String project) {
    if (sizeBytes < 1 || sizeBytes > blobs.maxBlobBytes()) {
      throw new FarmException.InvalidInput("size_bytes: " + sizeBytes
          + " is out of range (1 to " + blobs.maxBlobBytes() + ")");
    }
    catalog.checkNameFree(name);
    return new Upload(name, format, project, blobs.writer(expectedSha256, sizeBytes));
  }

  /** An image arriving in pieces; {@link #close} without {@link #finish} discards it. */
  public final class Upload implements AutoCloseable {
    private final String name;
    private final String format;
    private final String project;
    private final BlobWriter writer;

    private Upload(String name, String format, String project, BlobWriter writer) {
      this.project = project;
      this.name = name;
      this.format = format;
      this.writer = writer;
    }

    public void write(ByteBuffer bytes) {
      writer.write(bytes);
    }

    /** Verifies, inspects and stores the bytes, then registers the image. */
    public ImageRecord finish() {
      Inspected inspected = new Inspected(name, format);
      BlobStore.BlobInfo blob = writer.finish(inspected);
      if (inspected.oci != null) {
        return catalog.registerOci(name, blob.sha256(), blob.sizeBytes(), inspected.oci, project);
      }
      return catalog.register(name, blob.sha256(), blob.sizeBytes(), format, null, project);
    }

    @Override
    public void close() {
      writer.abort();
    }
  }

  /**
   * The check an image's bytes pass before they are stored: a disk's header ({@link
   * ImageInspection}), or an OCI image archive's manifest, config, digests and layers ({@link
   * OciArchive}, {@link OciLayers#check}), whose defaults it keeps for the catalog.
   */
  private static final class Inspected implements BlobWriter.ContentCheck {
    private final String name;
    private final String format;
    private OciDefaults oci;

    Inspected(String name, String format) {
      this.name = name;
      this.format = format;
    }

    @Override
    public void check(Path bytes) {
      if (!format.equals("oci")) {
        ImageInspection.requireSafeBase(name, format, bytes);
        return;
      }
      try (OciArchive archive = OciArchive.open(bytes)) {
        OciImage image = archive.read();
        OciLayers.check(archive, image, OciLayers.Limits.DEFAULT);
        String command = image.shellCommand();
        if (command.length() > MAX_COMMAND_CHARS) {
          throw OciArchive.refused("its entrypoint and cmd make a command of " + command.length()
              + " characters, more than " + MAX_COMMAND_CHARS);
        }
        oci = new OciDefaults(image.layout(), command, image.tcpPorts());
      } catch (IOException e) {
        throw BlobStore.ioFailure("cannot read OCI image archive " + name, e);
      }
    }
  }
}
