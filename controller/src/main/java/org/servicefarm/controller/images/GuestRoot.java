package org.servicefarm.controller.images;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;

/**
 * A composed root file system, seen as the guest will see it. Its contents come from packages
 * and their maintainer scripts, so any name in it may be a symbolic link, and an absolute link
 * ({@code /etc -> /etc}) read from the controller's side would point into the controller's own
 * file system. Every path here is resolved the way the guest's kernel will: a link's target is
 * taken relative to the root (absolute) or to its directory, and ".." never climbs above the
 * root. What the constructor writes or reads in the image therefore stays inside it.
 */
final class GuestRoot {
  /** As Linux: more links than this in one lookup is a loop. */
  private static final int MAX_LINKS = 40;

  private final Path root;

  GuestRoot(Path root) throws IOException {
    this.root = root.toRealPath();
  }

  Path root() {
    return root;
  }

  /**
   * Where an absolute guest path lives on this side, following the image's links inside the
   * image. The last component's link is followed too; use {@link #writeFile} to write.
   */
  Path resolve(String guestPath) throws IOException {
    return walk(guestPath, true);
  }

  /**
   * Writes a regular file at the guest path, creating its parent directories inside the image.
   * A link where the file goes is replaced, never followed.
   */
  void writeFile(String guestPath, String content, String mode) throws IOException {
    Path file = walk(guestPath, false);
    Files.createDirectories(file.getParent());
    // createDirectories follows links; check the parent again now that it exists.
    if (!file.getParent().toRealPath().startsWith(root)) {
      throw new IOException("the image's " + guestPath + " leads outside the image");
    }
    if (Files.isSymbolicLink(file) || Files.exists(file, LinkOption.NOFOLLOW_LINKS)
        && !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
      Files.delete(file);
    }
    OpenOption[] options = {StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS};
    try (OutputStream out = Files.newOutputStream(file, options)) {
      out.write(content.getBytes(StandardCharsets.UTF_8));
    }
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(mode));
  }

  /** Creates a directory (and parents) at the guest path, inside the image. */
  void createDirectories(String guestPath) throws IOException {
    Path dir = walk(guestPath, true);
    Files.createDirectories(dir);
    if (!dir.toRealPath().startsWith(root)) {
      throw new IOException("the image's " + guestPath + " leads outside the image");
    }
  }

  private Path walk(String guestPath, boolean followLast) throws IOException {
    if (!guestPath.startsWith("/")) {
      throw new IllegalArgumentException("guest path '" + guestPath + "' is not absolute");
    }
    Path at = root;
    Deque<String> pending = new ArrayDeque<>(names(guestPath));
    int links = 0;
    while (!pending.isEmpty()) {
      String name = pending.pop();
      if (name.isEmpty() || name.equals(".")) {
        continue;
      }
      if (name.equals("..")) {
        at = at.equals(root) ? root : at.getParent();
        continue;
      }
      Path next = at.resolve(name);
      boolean last = pending.isEmpty();
      if (Files.isSymbolicLink(next) && (!last || followLast)) {
        if (++links > MAX_LINKS) {
          throw new IOException("the image's " + guestPath + " has a symbolic link loop");
        }
        String target = Files.readSymbolicLink(next).toString();
        List<String> rest = new ArrayList<>(names(target));
        rest.addAll(pending);
        pending = new ArrayDeque<>(rest);
        if (target.startsWith("/")) {
          at = root;
        }
        continue;
      }
      at = next;
    }
    return at;
  }

  private static List<String> names(String path) {
    return Arrays.asList(path.split("/"));
  }
}
