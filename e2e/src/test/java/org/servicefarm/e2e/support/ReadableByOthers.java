package org.servicefarm.e2e.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * What in a directory tree an account other than the farm's own could read, judged from owners,
 * groups and modes: a path is readable when its mode lets others (or a group that is not one of
 * the farm's) read it and every directory from the tree's root down lets them pass.
 */
public final class ReadableByOthers {
  /**
   * The accounts the farm's files may belong to: root (the daemons in tests), servicefarm (the
   * embedded database), and QEMU's (libvirt hands running disks to it; it reads the image cache).
   */
  static final Set<String> FARM_ACCOUNTS = Set.of("root", "servicefarm", "libvirt-qemu", "kvm");

  private ReadableByOthers() {}

  /** Every path under {@code root} (root included) that another account could read. */
  public static List<String> under(Path root) throws IOException {
    List<String> found = new ArrayList<>();
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path path : (Iterable<Path>) paths::iterator) {
        if (Files.isSymbolicLink(path)) {
          continue;  // a link's own mode means nothing; its target is judged where it lives
        }
        if (opens(path, PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_READ)
            && reachable(root, path)) {
          PosixFileAttributes a = attributes(path);
          found.add(path + " (" + a.owner().getName() + ":" + a.group().getName() + " "
              + java.nio.file.attribute.PosixFilePermissions.toString(a.permissions()) + ")");
        }
      }
    }
    return found;
  }

  private static boolean reachable(Path root, Path path) throws IOException {
    for (Path dir = path.getParent(); dir != null && dir.startsWith(root); dir = dir.getParent()) {
      if (!opens(dir, PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.GROUP_EXECUTE)) {
        return false;
      }
    }
    return true;
  }

  /** Whether others, or members of a group that is not the farm's, get the permission. */
  private static boolean opens(Path path, PosixFilePermission forOthers,
      PosixFilePermission forGroup) throws IOException {
    PosixFileAttributes a = attributes(path);
    return a.permissions().contains(forOthers) || a.permissions().contains(forGroup)
        && !FARM_ACCOUNTS.contains(a.group().getName());
  }

  private static PosixFileAttributes attributes(Path path) throws IOException {
    return Files.readAttributes(path, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
  }
}
