package org.servicefarm.agent.images;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.Set;

/**
 * QEMU runs as its own user (libvirt-qemu on Debian), not as the agent's. libvirt hands it the
 * disk, kernel and initrd, but it must still walk the directories that hold them and read the
 * base images its overlays point at. So the agent's directories are 0755 and cached blobs 0644,
 * whatever the agent's umask.
 */
public final class QemuReadable {

  private static final Set<PosixFilePermission> DIRECTORY =
      PosixFilePermissions.fromString("rwxr-xr-x");
  private static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-r--r--");

  private QemuReadable() {}

  /** Creates the directory (and missing parents) and makes it traversable by every user. */
  public static Path directory(Path dir) throws IOException {
    Files.createDirectories(dir);
    if (posix()) {
      Files.setPosixFilePermissions(dir, DIRECTORY);
    }
    return dir;
  }

  /** Makes the file readable by every user. */
  public static Path file(Path file) throws IOException {
    if (posix()) {
      Files.setPosixFilePermissions(file, FILE);
    }
    return file;
  }

  /**
   * The nearest ancestor of {@code dir} (or {@code dir} itself) that other users cannot traverse,
   * if any: QEMU, running as its own user, cannot reach files below it.
   */
  public static Optional<Path> untraversableAncestor(Path dir) throws IOException {
    if (!posix()) {
      return Optional.empty();
    }
    for (Path at = dir.toAbsolutePath().normalize(); at != null; at = at.getParent()) {
      if (Files.exists(at)
          && !Files.getPosixFilePermissions(at).contains(PosixFilePermission.OTHERS_EXECUTE)) {
        return Optional.of(at);
      }
    }
    return Optional.empty();
  }

  private static boolean posix() {
    return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
  }
}
