package org.servicefarm.controller.images;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A root file system's entries as {@code find -printf} lists them inside the build's namespace
 * (so owners are the guest's ids): type, mode, owners, size, times, inode and link count, then the
 * path relative to the root and a symbolic link's target, each record three NUL-terminated fields.
 * Paths are kept as ISO-8859-1 strings, byte for byte, since a file name need not be UTF-8.
 */
final class TreeListing {
  /** The {@code find -printf} format that {@link #parse} reads. */
  static final String FIND_FORMAT = "%y %#m %U %G %s %T@ %C@ %i %n\\0%P\\0%l\\0";

  /**
   * One entry. Two entries are the same file when every field but the path is equal: a package
   * that replaced a file changed its inode or ctime even when it kept size and mtime.
   */
  record Entry(char type, int mode, long uid, long gid, long size, String mtime, String ctime,
      long inode, int links, String path, String target) {

    boolean sameFileAs(Entry other) {
      return type == other.type && mode == other.mode && uid == other.uid && gid == other.gid
          && size == other.size && mtime.equals(other.mtime) && ctime.equals(other.ctime)
          && inode == other.inode && target.equals(other.target);
    }

    /** The modification time in whole seconds since the epoch. */
    long mtimeSeconds() {
      int dot = mtime.indexOf('.');
      return Long.parseLong(dot < 0 ? mtime : mtime.substring(0, dot));
    }

    int depth() {
      return (int) path.chars().filter(c -> c == '/').count();
    }
  }

  private TreeListing() {}

  /** The entries by path, the root itself left out. */
  static Map<String, Entry> parse(byte[] listing) {
    String text = new String(listing, StandardCharsets.ISO_8859_1);
    String[] fields = text.split("\0", -1);
    // A listing ends with NUL, so the split leaves one empty string after the last record.
    if ((fields.length - 1) % 3 != 0) {
      throw new IllegalArgumentException("a tree listing of " + listing.length
          + " bytes does not hold whole records (" + (fields.length - 1) + " fields)");
    }
    Map<String, Entry> entries = new LinkedHashMap<>();
    for (int i = 0; i + 2 < fields.length; i += 3) {
      String path = fields[i + 1];
      if (path.isEmpty()) {
        continue;
      }
      entries.put(path, entry(fields[i], path, fields[i + 2]));
    }
    return entries;
  }

  private static Entry entry(String head, String path, String target) {
    List<String> f = List.of(head.split(" "));
    if (f.size() != 9 || f.get(0).length() != 1) {
      throw new IllegalArgumentException("tree listing entry '" + head + "' of " + path
          + " is not 'type mode uid gid size mtime ctime inode links'");
    }
    return new Entry(f.get(0).charAt(0), Integer.parseInt(f.get(1), 8), Long.parseLong(f.get(2)),
        Long.parseLong(f.get(3)), Long.parseLong(f.get(4)), f.get(5), f.get(6),
        Long.parseLong(f.get(7)), Integer.parseInt(f.get(8)), path, target);
  }
}
