package org.servicefarm.controller.images;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.servicefarm.controller.images.TreeListing.Entry;

/**
 * What installing a service's packages changed in the base layer's tree, as a {@code debugfs -w}
 * script that makes the same changes in a copy of the base layer's ext4 file system: removals
 * (deepest first), then new and changed entries (parents first), each with its mode, owners and
 * modification time. Written into the base's file system rather than made anew with
 * {@code mkfs.ext4 -d}, so every block the packages did not touch stays where the base has it and
 * the service layer holds only the blocks that differ. Pure: no file is read here.
 *
 * <p>Left out: the contents of {@code /dev}, {@code /proc}, {@code /sys}, {@code /run} and
 * {@code /tmp} (mounted over in the guest), apt's package lists and archive cache (the package
 * cache lives outside the image), and {@code /boot} and the kernel's modules: a service boots
 * the base's kernel and initrd, whose modules are the base's (the service build does not unpack
 * them).
 */
final class LayerChanges {
  private static final List<String> SKIPPED_CONTENTS = List.of("dev/", "proc/", "sys/", "run/",
      "tmp/", "var/lib/apt/lists/", "var/cache/apt/");
  private static final List<String> SKIPPED_WHOLE = List.of("boot", "usr/lib/modules",
      "lib/modules");

  private LayerChanges() {}

  /**
   * The script turning {@code before} into {@code after}.
   *
   * @param hostRoot where the after tree lies, as debugfs (in the build's namespace) sees it
   * @throws ToolRunner.ToolFailure for a path debugfs cannot be told, or a device file
   */
  static String debugfsScript(Map<String, Entry> before, Map<String, Entry> after,
      String hostRoot) throws ToolRunner.ToolFailure {
    StringBuilder script = new StringBuilder();
    List<Entry> removed = new ArrayList<>();
    for (Entry old : before.values()) {
      if (skipped(old.path())) {
        continue;
      }
      Entry now = after.get(old.path());
      if (now == null || replaced(old, now)) {
        removed.add(old);
      }
    }
    removed.sort(Comparator.comparingInt(Entry::depth).reversed());
    for (Entry old : removed) {
      script.append(old.type() == 'd' ? "rmdir " : "rm ").append(quoted("/" + old.path()))
          .append('\n');
    }

    List<Entry> changed = new ArrayList<>();
    for (Entry now : after.values()) {
      Entry old = before.get(now.path());
      if (!skipped(now.path()) && (old == null || !old.sameFileAs(now))) {
        changed.add(now);
      }
    }
    changed.sort(Comparator.comparing(Entry::path));
    Map<Long, Entry> firstLinkOf = new HashMap<>();
    Map<Long, Integer> linksSeen = new HashMap<>();
    for (Entry now : changed) {
      Entry old = before.get(now.path());
      boolean exists = old != null && !replaced(old, now);
      String path = "/" + now.path();
      quoted(path); // refused whole, naming all of it, before any part is written
      script.append("cd ").append(quoted(parent(path))).append('\n');
      String name = quoted(name(path));
      switch (now.type()) {
        case 'd' -> {
          if (!exists) {
            script.append("mkdir ").append(name).append('\n');
          }
        }
        case 'f' -> {
          if (exists) {
            script.append("rm ").append(name).append('\n');
          }
          Entry first = now.links() > 1 ? firstLinkOf.putIfAbsent(now.inode(), now) : null;
          if (first != null) {
            script.append("ln ").append(quoted("/" + first.path())).append(' ').append(name)
                .append('\n');
            linksSeen.merge(now.inode(), 1, Integer::sum);
            continue; // the inode's fields were set with its first name
          }
          linksSeen.put(now.inode(), 1);
          script.append("write ").append(quoted(hostRoot + path)).append(' ').append(name)
              .append('\n');
        }
        case 'l' -> {
          if (exists) {
            script.append("rm ").append(name).append('\n');
          }
          script.append("symlink ").append(name).append(' ').append(quoted(now.target()))
              .append('\n');
        }
        case 'p' -> {
          if (exists) {
            script.append("rm ").append(name).append('\n');
          }
          script.append("mknod ").append(name).append(" p\n");
        }
        default -> throw new ToolRunner.ToolFailure("layer: the packages installed " + path
            + " of type '" + now.type() + "' (a device or socket), which an image layer cannot"
            + " hold");
      }
      setFields(script, path, now);
    }
    // debugfs's ln adds a name without counting it; the count is set once all names exist.
    for (Map.Entry<Long, Integer> links : linksSeen.entrySet()) {
      if (links.getValue() > 1) {
        script.append("sif ").append(quoted("/" + firstLinkOf.get(links.getKey()).path()))
            .append(" links_count ").append(links.getValue()).append('\n');
      }
    }
    return script.toString();
  }

  private static void setFields(StringBuilder script, String path, Entry e)
      throws ToolRunner.ToolFailure {
    String q = quoted(path);
    if (e.type() != 'l') { // a symbolic link's mode is always 0777
      script.append("sif ").append(q).append(" mode 0").append(Integer.toOctalString(
          typeBits(e.type()) | e.mode())).append('\n');
    }
    script.append("sif ").append(q).append(" uid ").append(e.uid()).append('\n');
    script.append("sif ").append(q).append(" gid ").append(e.gid()).append('\n');
    script.append("sif ").append(q).append(" mtime @").append(e.mtimeSeconds()).append('\n');
  }

  private static int typeBits(char type) {
    return switch (type) {
      case 'd' -> 0040000;
      case 'l' -> 0120000;
      case 'p' -> 0010000;
      default -> 0100000;
    };
  }

  /** An entry whose type changed, or a changed non-directory: it goes before its successor comes. */
  private static boolean replaced(Entry old, Entry now) {
    return old.type() != now.type();
  }

  private static boolean skipped(String path) {
    for (String prefix : SKIPPED_CONTENTS) {
      if (path.startsWith(prefix)) {
        return true;
      }
    }
    for (String whole : SKIPPED_WHOLE) {
      if (path.equals(whole) || path.startsWith(whole + "/")) {
        return true;
      }
    }
    return false;
  }

  private static String parent(String path) {
    int slash = path.lastIndexOf('/');
    return slash == 0 ? "/" : path.substring(0, slash);
  }

  private static String name(String path) {
    return path.substring(path.lastIndexOf('/') + 1);
  }

  /** debugfs reads a double-quoted argument up to the next quote; it knows no escapes. */
  static String quoted(String arg) throws ToolRunner.ToolFailure {
    for (int i = 0; i < arg.length(); i++) {
      char c = arg.charAt(i);
      if (c == '"' || c < 0x20 || c == 0x7f) {
        throw new ToolRunner.ToolFailure("layer: the path or link target '"
            + arg.replaceAll("\\p{Cntrl}", "?") + "' holds a quote or control character, which"
            + " the image layer's writer cannot name");
      }
    }
    return "\"" + arg + "\"";
  }
}
