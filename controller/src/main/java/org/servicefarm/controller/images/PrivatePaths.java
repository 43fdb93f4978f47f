package org.servicefarm.controller.images;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The controller's files are its account's alone: image blobs, VM archives, builds, tokens. The
 * data directory itself may have to let the embedded database's account pass through (see
 * ControllerMain), so what is in it must not rely on the directory alone.
 */
public final class PrivatePaths {
  private PrivatePaths() {}

  /** Creates the directory (and missing parents) and makes it 0700. */
  public static Path directory(Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    return dir;
  }

  /** Makes an existing file 0600. */
  public static Path file(Path file) throws IOException {
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    return file;
  }
}
