package org.servicefarm.controller.images;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Applies an OCI image's layers in order, as a container runtime would, and writes the result as
 * one tar: an entry of a later layer replaces the same path of an earlier one (a file replacing a
 * directory takes its contents with it), {@code .wh.NAME} deletes NAME of the layers below, and
 * {@code .wh..wh..opq} empties its directory of what the layers below put there. Whiteouts apply
 * among the image's own layers; what the farm's base layer holds is not theirs to delete.
 *
 * <p>The layers come from a stranger. A path that is absolute or climbs with "..", a relative
 * symbolic link that climbs out of the root, a hard link to a path the image does not hold, and
 * a path written through one of the image's own symbolic links are refused, naming the entry and
 * its layer. The number of entries and the bytes the layers unpack to are bounded before anything
 * is written, and the refusal names both the sizes and the limit. Only the paths are held in
 * memory, never a file's bytes. Device nodes and FIFOs are left out: the guest's /dev is its
 * kernel's devtmpfs.
 */
final class OciLayers {
  private static final String WHITEOUT = ".wh.";
  private static final String OPAQUE = ".wh..wh..opq";

  /** The most the layers may unpack to (bytes of every entry of every layer), and entries kept. */
  record Limits(long maxBytes, int maxEntries) {
    static final Limits DEFAULT = new Limits(1L << 30, 200_000);
  }

  /** What was written: entries and bytes of files (-1 when nothing was written). */
  record Flattened(int entries, long bytes) {}

  private record Kept(int layer, int ordinal, char type, String linkName) {}

  private OciLayers() {}

  /**
   * Checks every layer as {@link #flatten} would, writing nothing: what an upload is refused for
   * is refused when it arrives, not when a definition first uses it.
   */
  static Flattened check(OciArchive archive, OciImage image, Limits limits) throws IOException {
    TreeMap<String, Kept> kept = apply(archive, image, limits);
    requireSafeLinks(kept);
    return new Flattened(kept.size(), -1);
  }

  /** Writes the image's file system, its layers applied in order, as a tar at {@code out}. */
  static Flattened flatten(OciArchive archive, OciImage image, Path out, Limits limits)
      throws IOException {
    TreeMap<String, Kept> kept = apply(archive, image, limits);
    requireSafeLinks(kept);
    try (OutputStream file = new BufferedOutputStream(Files.newOutputStream(out));
        TarArchiveOutputStream tar = new TarArchiveOutputStream(file)) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      long[] bytes = {0};
      forEachEntry(archive, image, (layer, layerName, ordinal, path, e, in) -> {
        Kept k = path.isEmpty() ? null : kept.get(path);
        if (k == null || k.layer() != layer || k.ordinal() != ordinal) {
          return;
        }
        e.setName(e.isDirectory() ? path + "/" : path);
        if (e.isLink()) {
          e.setLinkName(k.linkName());
        }
        tar.putArchiveEntry(e);
        if (e.isFile()) {
          bytes[0] += in.transferTo(tar);
        }
        tar.closeArchiveEntry();
      });
      return new Flattened(kept.size(), bytes[0]);
    }
  }

  /** One entry of one layer, its path made relative to the root (empty for the root). */
  @FunctionalInterface
  private interface LayerEntry {
    void visit(int layer, String layerName, int ordinal, String path, TarArchiveEntry entry,
        InputStream content) throws IOException;
  }

  /** Every entry of every layer, lowest layer first, each layer's in its order. */
  private static void forEachEntry(OciArchive archive, OciImage image, LayerEntry visitor)
      throws IOException {
    for (int layer = 0; layer < image.layers().size(); layer++) {
      String name = image.layers().get(layer);
      try (TarArchiveInputStream in = new TarArchiveInputStream(archive.layer(name))) {
        int ordinal = 0;
        for (TarArchiveEntry e; (e = in.getNextEntry()) != null; ) {
          ordinal++;
          visitor.visit(layer, name, ordinal, pathOf(e.getName(), name), e, in);
        }
      }
    }
  }

  /** Which entry of which layer each path of the result comes from. */
  private static TreeMap<String, Kept> apply(OciArchive archive, OciImage image, Limits limits)
      throws IOException {
    TreeMap<String, Kept> kept = new TreeMap<>();
    long[] unpacked = {0};
    forEachEntry(archive, image, (layer, name, ordinal, path, e, in) -> {
      if (path.isEmpty() || e.isCharacterDevice() || e.isBlockDevice() || e.isFIFO()) {
        return;
      }
      unpacked[0] += Math.max(0, e.getSize());
      if (unpacked[0] > limits.maxBytes()) {
        throw OciArchive.refused("its layers unpack to more than " + unpacked[0]
            + " bytes (layer " + (layer + 1) + " of " + image.layers().size()
            + " so far), over the limit of " + limits.maxBytes() + " bytes");
      }
      int slash = path.lastIndexOf('/');
      String parent = slash < 0 ? "" : path.substring(0, slash);
      String base = path.substring(slash + 1);
      if (base.equals(OPAQUE)) {
        removeBelow(kept, parent, layer, false);
        return;
      }
      if (base.startsWith(WHITEOUT)) {
        String gone = (parent.isEmpty() ? "" : parent + "/") + base.substring(WHITEOUT.length());
        removeBelow(kept, gone, layer, true);
        return;
      }
      String linkName = null;
      if (e.isLink()) {
        linkName = pathOf(e.getLinkName(), name);
      } else if (e.isSymbolicLink()) {
        requireInsideRoot(parent, e.getLinkName(), path, name);
      }
      if (!e.isDirectory()) {
        removeBelow(kept, path, Integer.MAX_VALUE, false);
      }
      kept.put(path, new Kept(layer, ordinal,
          e.isDirectory() ? 'd' : e.isSymbolicLink() ? 'l' : e.isLink() ? 'h' : 'f', linkName));
      if (kept.size() > limits.maxEntries()) {
        throw OciArchive.refused("its layers hold more than " + limits.maxEntries()
            + " paths, the limit");
      }
    });
    return kept;
  }

  /**
   * Removes what layers below {@code layer} put at {@code path} (with {@code itself}) and under
   * it.
   */
  private static void removeBelow(TreeMap<String, Kept> kept, String path, int layer,
      boolean itself) {
    // Every path under "a" starts "a/", and '0' is the character after '/'.
    Map<String, Kept> under = path.isEmpty() ? kept : kept.subMap(path + "/", path + "0");
    under.values().removeIf(k -> k.layer() < layer);
    if (itself) {
      Kept k = kept.get(path);
      if (k != null && k.layer() < layer) {
        kept.remove(path);
      }
    }
  }

  /**
   * Refuses a path written through one of the image's symbolic links (whose target extraction
   * would follow), and a hard link to a path the result does not hold as a file.
   */
  private static void requireSafeLinks(TreeMap<String, Kept> kept) {
    for (Map.Entry<String, Kept> entry : kept.entrySet()) {
      String path = entry.getKey();
      for (int slash = path.indexOf('/'); slash > 0; slash = path.indexOf('/', slash + 1)) {
        Kept ancestor = kept.get(path.substring(0, slash));
        if (ancestor != null && ancestor.type() == 'l') {
          throw OciArchive.refused("'" + BlobStore.shorten(path) + "' is written through the"
              + " symbolic link '" + path.substring(0, slash) + "' of the same image");
        }
      }
      String target = entry.getValue().linkName();
      if (target != null) {
        Kept t = kept.get(target);
        Kept link = entry.getValue();
        boolean before = t != null && (t.layer() < link.layer()
            || t.layer() == link.layer() && t.ordinal() < link.ordinal());
        if (t == null || (t.type() != 'f' && t.type() != 'h') || !before) {
          throw OciArchive.refused("hard link '" + BlobStore.shorten(path) + "' names '"
              + BlobStore.shorten(target) + "', which is not a file of the image written"
              + " before it");
        }
      }
    }
  }

  /** A relative symbolic link's target, resolved from its directory, stays inside the root. */
  private static void requireInsideRoot(String parent, String target, String path, String layer) {
    if (target.startsWith("/")) {
      return; // the guest resolves it from its own root, and extraction runs chrooted there
    }
    Deque<String> at = new ArrayDeque<>();
    if (!parent.isEmpty()) {
      for (String part : parent.split("/")) {
        at.addLast(part);
      }
    }
    for (String part : target.split("/")) {
      if (part.equals("..")) {
        if (at.isEmpty()) {
          throw OciArchive.refused("symbolic link '" + BlobStore.shorten(path) + "' in layer "
              + layer + " points to '" + BlobStore.shorten(target) + "', outside the image");
        }
        at.removeLast();
      } else if (!part.isEmpty() && !part.equals(".")) {
        at.addLast(part);
      }
    }
  }

  /**
   * The entry's path relative to the root, without "./" or a trailing slash; "" for the root.
   * Refuses an absolute path and one with "..".
   */
  static String pathOf(String name, String layer) {
    if (name.startsWith("/")) {
      throw OciArchive.refused("layer " + layer + " holds the absolute path '"
          + BlobStore.shorten(name) + "'");
    }
    List<String> parts = new ArrayList<>();
    for (String part : name.split("/")) {
      if (part.equals("..")) {
        throw OciArchive.refused("layer " + layer + " holds the path '" + BlobStore.shorten(name)
            + "', which climbs out of the image with '..'");
      }
      if (!part.isEmpty() && !part.equals(".")) {
        parts.add(part);
      }
    }
    return String.join("/", parts);
  }
}
