package org.servicefarm.controller.images;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The clusters in which a service layer's raw disk differs from its base layer's, as a sparse
 * raw file holding exactly those clusters (everything else a hole) and the list of differing
 * clusters that are all zeros. {@code qemu-img convert} of that file leaves the holes
 * unallocated, so once its backing file is set to the base layer ({@code rebase -u}) they read
 * through to the base; the zero clusters, which convert also leaves unallocated, are then written
 * as zero clusters on their own ({@code qemu-io write -z}). The cluster is qcow2's default, 64 KiB,
 * so every allocated cluster of the layer is wholly defined by the delta.
 */
final class LayerDelta {
  static final int CLUSTER = 64 * 1024;
  private static final int CHUNK = 16 * CLUSTER;
  private static final Pattern EXTENT = Pattern.compile(
      "\"start\": (\\d+), \"length\": (\\d+),[^}]*\"data\": (true|false)");

  /** A run of bytes, {@code [offset, offset + length)}. */
  record Run(long offset, long length) {}

  /** What differs: bytes copied into the delta, and the runs that became zeros. */
  record Result(long changedBytes, List<Run> zeroRuns) {}

  private LayerDelta() {}

  /**
   * The ranges holding data according to {@code qemu-img map --output=json}, which knows a raw
   * file's holes: only those need comparing.
   */
  static List<Run> dataExtents(String mapJson) {
    List<Run> runs = new ArrayList<>();
    Matcher m = EXTENT.matcher(mapJson);
    while (m.find()) {
      if (m.group(3).equals("true")) {
        runs.add(new Run(Long.parseLong(m.group(1)), Long.parseLong(m.group(2))));
      }
    }
    return runs;
  }

  /** Writes the clusters of {@code service} that differ from {@code base} into {@code delta}. */
  static Result write(Path base, List<Run> baseData, Path service, List<Run> serviceData,
      Path delta) throws IOException {
    long size = Files.size(service);
    TreeMap<Long, Long> clusters = alignedUnion(baseData, serviceData, size);
    long changed = 0;
    List<Run> zeros = new ArrayList<>();
    byte[] a = new byte[CHUNK];
    byte[] b = new byte[CHUNK];
    try (FileChannel baseIn = FileChannel.open(base, StandardOpenOption.READ);
        FileChannel serviceIn = FileChannel.open(service, StandardOpenOption.READ);
        FileChannel out = FileChannel.open(delta, StandardOpenOption.CREATE_NEW,
            StandardOpenOption.WRITE)) {
      long baseSize = baseIn.size();
      for (var range : clusters.entrySet()) {
        for (long pos = range.getKey(); pos < range.getValue(); pos += CHUNK) {
          int len = (int) Math.min(CHUNK, range.getValue() - pos);
          readFully(baseIn, a, pos, len, baseSize);
          readFully(serviceIn, b, pos, len, size);
          for (int off = 0; off < len; off += CLUSTER) {
            int end = Math.min(off + CLUSTER, len);
            if (Arrays.equals(a, off, end, b, off, end)) {
              continue;
            }
            if (allZero(b, off, end)) {
              addRun(zeros, pos + off, end - off);
            } else {
              out.write(ByteBuffer.wrap(b, off, end - off), pos + off);
              changed += end - off;
            }
          }
        }
      }
    }
    // The delta is as long as the disk, holes and all, so convert makes a layer of its size.
    try (RandomAccessFile file = new RandomAccessFile(delta.toFile(), "rw")) {
      if (file.length() < size) {
        file.setLength(size);
      }
    }
    return new Result(changed, zeros);
  }

  /** The map output of a file, read as UTF-8 (it is JSON). */
  static List<Run> dataExtents(Path mapOutput) throws IOException {
    return dataExtents(Files.readString(mapOutput, StandardCharsets.UTF_8));
  }

  private static TreeMap<Long, Long> alignedUnion(List<Run> x, List<Run> y, long size) {
    List<Run> all = new ArrayList<>(x);
    all.addAll(y);
    all.sort((r, s) -> Long.compare(r.offset(), s.offset()));
    TreeMap<Long, Long> merged = new TreeMap<>();
    long start = -1;
    long end = -1;
    for (Run r : all) {
      long s = r.offset() / CLUSTER * CLUSTER;
      long e = Math.min(size, (r.offset() + r.length() + CLUSTER - 1) / CLUSTER * CLUSTER);
      if (s >= size) {
        continue;
      }
      if (start >= 0 && s <= end) {
        end = Math.max(end, e);
      } else {
        if (start >= 0) {
          merged.put(start, end);
        }
        start = s;
        end = e;
      }
    }
    if (start >= 0) {
      merged.put(start, end);
    }
    return merged;
  }

  private static void readFully(FileChannel in, byte[] into, long pos, int len, long fileSize)
      throws IOException {
    Arrays.fill(into, 0, len, (byte) 0); // past the end of a shorter file reads as zeros
    ByteBuffer buffer = ByteBuffer.wrap(into, 0, (int) Math.max(0, Math.min(len, fileSize - pos)));
    while (buffer.hasRemaining()) {
      if (in.read(buffer, pos + buffer.position()) < 0) {
        break;
      }
    }
  }

  private static boolean allZero(byte[] bytes, int from, int to) {
    for (int i = from; i < to; i++) {
      if (bytes[i] != 0) {
        return false;
      }
    }
    return true;
  }

  private static void addRun(List<Run> runs, long offset, long length) {
    if (!runs.isEmpty()) {
      Run last = runs.get(runs.size() - 1);
      if (last.offset() + last.length() == offset) {
        runs.set(runs.size() - 1, new Run(last.offset(), last.length() + length));
        return;
      }
    }
    runs.add(new Run(offset, length));
  }
}
