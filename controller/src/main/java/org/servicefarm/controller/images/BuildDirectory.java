package org.servicefarm.controller.images;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;

/**
 * Removes a build's directory safely. A composing tool killed halfway can leave the host's /proc,
 * /sys or /dev mounted inside the root file system it was making; deleting "recursively" through
 * such a mount would delete the host's files. So nothing is removed while anything under the
 * directory is mounted, and the walk never leaves the directory's own file system.
 */
final class BuildDirectory {
  private BuildDirectory() {}

  /** Removes {@code dir} and everything in it; a missing directory is already removed. */
  static void remove(Path dir) throws IOException {
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    Path real = dir.toRealPath();
    List<String> mounted = mountsUnder(real);
    if (!mounted.isEmpty()) {
      throw new IOException("not removing " + real + ": still mounted inside it: "
          + String.join(", ", mounted) + " (unmount them, then remove it)");
    }
    Object device = Files.getAttribute(real, "unix:dev", LinkOption.NOFOLLOW_LINKS);
    Files.walkFileTree(real, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs)
          throws IOException {
        if (!device.equals(Files.getAttribute(d, "unix:dev", LinkOption.NOFOLLOW_LINKS))) {
          throw new IOException("not removing " + d + ": it is on another file system");
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
        Files.delete(f);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path d, IOException failure) throws IOException {
        if (failure != null) {
          throw failure;
        }
        Files.delete(d);
        return FileVisitResult.CONTINUE;
      }
    });
  }

  /** Mount points at or below {@code dir}, from the kernel's table of this process's mounts. */
  static List<String> mountsUnder(Path dir) throws IOException {
    Path table = Path.of("/proc/self/mountinfo");
    if (!Files.exists(table)) {
      return List.of();
    }
    String prefix = dir.toString();
    return Files.readAllLines(table).stream()
        .map(line -> line.split(" "))
        .filter(fields -> fields.length > 4)
        // Field 5 is the mount point, with spaces and such escaped as octal (\\040).
        .map(fields -> fields[4].replace("\\040", " "))
        .filter(point -> point.equals(prefix) || point.startsWith(prefix + "/"))
        .toList();
  }
}
