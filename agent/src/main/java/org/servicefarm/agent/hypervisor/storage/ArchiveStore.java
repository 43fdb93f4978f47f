package org.servicefarm.agent.hypervisor.storage;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Optional;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * Archived VMs on this host: one directory a VM under the archive root, holding the gzip-compressed
 * disk (when the VM had a disk file) and the domain's metadata. The directory's path is the
 * archive reference handed to the controller. Directories are assembled under a hidden
 * {@code .<vmId>.partial} name and renamed into place, so a crash never leaves a half archive
 * under a VM's name (hidden names cannot clash with VM ids, which start with a letter or digit).
 */
public final class ArchiveStore {

  static final String DISK_FILE = "disk.qcow2.gz";
  static final String METADATA_FILE = "metadata.xml";
  private static final int BUFFER_BYTES = 1 << 16;

  private final Path root;

  public ArchiveStore(Path root) {
    this.root = root.toAbsolutePath().normalize();
  }

  public Path root() {
    return root;
  }

  /** One VM's archive as found on disk. */
  public record ArchivedVm(Path directory, String metadataXml, Optional<Path> compressedDisk) {}

  /** The archive directory of the VM, when this store holds one. */
  public Optional<Path> find(String vmId) {
    Path dir = root.resolve(vmId);
    return Files.isRegularFile(dir.resolve(METADATA_FILE)) ? Optional.of(dir) : Optional.empty();
  }

  /**
   * Compresses {@code disk} (when it exists) into the VM's archive beside {@code metadataXml},
   * then removes the original disk.
   *
   * @return the archive directory
   */
  public Path store(String vmId, Path disk, String metadataXml) throws IOException {
    Files.createDirectories(root);
    Path dir = root.resolve(vmId);
    boolean diskPresent = Files.isRegularFile(disk);
    if (Files.isDirectory(dir) && !diskPresent) {
      // An earlier attempt already moved the disk in (or there never was one): keep what is
      // there and only refresh the metadata.
      Path fresh = root.resolve("." + vmId + ".metadata.partial");
      Files.writeString(fresh, metadataXml);
      Files.move(fresh, dir.resolve(METADATA_FILE),
          StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      return dir;
    }
    Path partial = root.resolve("." + vmId + ".partial");
    deleteRecursively(partial);
    Files.createDirectories(partial);
    if (diskPresent) {
      gzip(disk, partial.resolve(DISK_FILE));
    }
    Files.writeString(partial.resolve(METADATA_FILE), metadataXml);
    deleteRecursively(dir);
    Files.move(partial, dir, StandardCopyOption.ATOMIC_MOVE);
    Files.deleteIfExists(disk);
    return dir;
  }

  /**
   * Reads the archive an archive reference points at. Only archives under this store's root are
   * accepted: farms that share archives between hosts point every agent at the same directory.
   */
  public ArchivedVm open(String archiveRef) throws IOException {
    Path dir;
    try {
      dir = Path.of(archiveRef).toAbsolutePath().normalize();
    } catch (InvalidPathException e) {
      throw new IOException("archive ref '" + archiveRef + "' is not a path: " + e.getMessage(), e);
    }
    if (!dir.startsWith(root) || dir.equals(root)) {
      throw new IOException(
          "archive ref '" + archiveRef + "' is outside this host's archive store " + root);
    }
    String metadataXml = Files.readString(dir.resolve(METADATA_FILE));
    Path disk = dir.resolve(DISK_FILE);
    return new ArchivedVm(
        dir, metadataXml, Files.isRegularFile(disk) ? Optional.of(disk) : Optional.empty());
  }

  /** Decompresses the archived disk (if the archive has one) to {@code target}. */
  public void restoreDisk(ArchivedVm archived, Path target) throws IOException {
    if (archived.compressedDisk().isEmpty()) {
      return;
    }
    Files.createDirectories(target.toAbsolutePath().getParent());
    Path partial = target.resolveSibling("." + target.getFileName() + ".partial");
    try (InputStream in = new GZIPInputStream(
            Files.newInputStream(archived.compressedDisk().get()), BUFFER_BYTES);
        OutputStream out = Files.newOutputStream(partial)) {
      in.transferTo(out);
    }
    Files.move(partial, target,
        StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** Deletes an archive directory of this store and everything in it. */
  public void remove(Path archiveDir) throws IOException {
    Path dir = archiveDir.toAbsolutePath().normalize();
    if (!dir.startsWith(root) || dir.equals(root)) {
      throw new IOException("refusing to delete " + dir + ": not an archive under " + root);
    }
    deleteRecursively(dir);
  }

  private static void gzip(Path source, Path target) throws IOException {
    try (InputStream in = Files.newInputStream(source);
        OutputStream out = new GZIPOutputStream(
            new BufferedOutputStream(Files.newOutputStream(target), BUFFER_BYTES), BUFFER_BYTES)) {
      in.transferTo(out);
    }
  }

  private static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(path);
      }
    }
  }
}
