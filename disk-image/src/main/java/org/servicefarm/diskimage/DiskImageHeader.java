package org.servicefarm.diskimage;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * What a disk image's header says about it, read without QEMU: whether it is qcow2 (else it is
 * taken as raw), its virtual size, and the files it would make QEMU open besides itself (a
 * backing file, an external data file). A qcow2 image can name any path of the host that opens
 * it, so an image from outside is refused when it names one ({@link #problemsAsBase},
 * {@link #problemsAsOverlay}) before any QEMU tool opens it.
 *
 * <p>The layout is the qcow2 specification's (docs/interop/qcow2.txt in QEMU): a big-endian
 * header, header extensions after it in the first cluster.
 */
public record DiskImageHeader(
    boolean qcow2,
    long fileSizeBytes,
    long virtualSizeBytes,
    Optional<String> backingFile,
    Optional<String> externalDataFile,
    boolean encrypted,
    List<String> malformed) {

  private static final byte[] QCOW2_MAGIC = {'Q', 'F', 'I', (byte) 0xfb};
  private static final int V2_HEADER_BYTES = 72;
  private static final int MAX_HEADER_READ = 2 << 20; // the largest cluster (cluster_bits 21)
  private static final int MAX_BACKING_NAME = 1023; // QEMU's own limit
  private static final long INCOMPATIBLE_EXTERNAL_DATA_FILE = 1L << 2;
  private static final int EXTENSION_END = 0;
  private static final int EXTENSION_DATA_FILE_NAME = 0x44415441;
  // Metadata a qcow2 image of a virtual size may need beyond it: L2 and refcount tables (at
  // most an eighth with the smallest clusters), the header, and room for a few tables more.
  private static final long METADATA_ALLOWANCE_BYTES = 64L << 20;

  /** Reads the header of the file, which must be a regular file (a link is refused). */
  public static DiskImageHeader read(Path file) throws IOException {
    if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
      throw new IOException(file + " is not a regular file");
    }
    long size = Files.size(file);
    byte[] head;
    try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
      head = in.readNBytes((int) Math.min(size, MAX_HEADER_READ));
    }
    return parse(head, size);
  }

  /** Parses the first bytes of an image of {@code fileSize} bytes. */
  public static DiskImageHeader parse(byte[] head, long fileSize) {
    if (head.length < 4 || !Arrays.equals(Arrays.copyOf(head, 4), QCOW2_MAGIC)) {
      return new DiskImageHeader(false, fileSize, fileSize, Optional.empty(), Optional.empty(),
          false, List.of());
    }
    List<String> malformed = new ArrayList<>();
    if (head.length < V2_HEADER_BYTES) {
      malformed.add("its qcow2 header is cut short (" + head.length + " bytes)");
      return new DiskImageHeader(true, fileSize, 0, Optional.empty(), Optional.empty(), false,
          malformed);
    }
    ByteBuffer header = ByteBuffer.wrap(head); // big-endian, as qcow2 is
    int version = header.getInt(4);
    long backingOffset = header.getLong(8);
    int backingSize = header.getInt(16);
    long virtualSize = header.getLong(24);
    int cryptMethod = header.getInt(32);
    if (version != 2 && version != 3) {
      malformed.add("its qcow2 version is " + version + ", not 2 or 3");
    }
    Optional<String> backing = Optional.empty();
    if (backingOffset != 0) {
      backing = Optional.of(backingName(head, backingOffset, backingSize, malformed));
    }
    long incompatible = 0;
    int extensionsAt = V2_HEADER_BYTES;
    if (version == 3) {
      if (head.length < 104) {
        malformed.add("its qcow2 version 3 header is cut short");
      } else {
        incompatible = header.getLong(72);
        extensionsAt = header.getInt(100);
      }
    }
    Optional<String> dataFile = dataFileName(head, extensionsAt, malformed);
    if (dataFile.isEmpty() && (incompatible & INCOMPATIBLE_EXTERNAL_DATA_FILE) != 0) {
      dataFile = Optional.of("(unnamed; the header sets the external data file bit)");
    }
    if (virtualSize < 0) {
      malformed.add("its qcow2 header declares a negative virtual size");
    }
    return new DiskImageHeader(true, fileSize, virtualSize, backing, dataFile, cryptMethod != 0,
        malformed);
  }

  private static String backingName(byte[] head, long offset, int size, List<String> malformed) {
    if (size <= 0 || size > MAX_BACKING_NAME || offset < V2_HEADER_BYTES
        || offset + size > head.length) {
      malformed.add("its qcow2 header names a backing file at offset " + offset + " of "
          + size + " bytes, outside its first cluster");
      return "(unreadable name at offset " + offset + ")";
    }
    return shown(new String(head, (int) offset, size, StandardCharsets.UTF_8));
  }

  private static Optional<String> dataFileName(byte[] head, int at, List<String> malformed) {
    ByteBuffer header = ByteBuffer.wrap(head);
    int position = at;
    while (position + 8 <= head.length) {
      int type = header.getInt(position);
      int length = header.getInt(position + 4);
      if (type == EXTENSION_END) {
        return Optional.empty();
      }
      if (length < 0 || position + 8L + length > head.length) {
        malformed.add("its qcow2 header extension at offset " + position + " runs past the"
            + " first cluster");
        return Optional.empty();
      }
      if (type == EXTENSION_DATA_FILE_NAME) {
        return Optional.of(shown(new String(head, position + 8, length, StandardCharsets.UTF_8)));
      }
      position += 8 + ((length + 7) & ~7);
    }
    return Optional.empty();
  }

  /** A name as a message may show it: no control characters, at most 200 characters. */
  private static String shown(String name) {
    StringBuilder out = new StringBuilder();
    name.codePoints().limit(200).forEach(c -> {
      if (c < 0x20 || c == 0x7f) {
        out.append(String.format("\\x%02x", c));
      } else {
        out.appendCodePoint(c);
      }
    });
    return out.toString();
  }

  /**
   * Why the file may not become a base image declared as {@code format} ("qcow2" or "raw"):
   * empty when it may. A base image stands alone: it names no other file, is not encrypted, and
   * holds no more than an image of its virtual size needs.
   */
  public List<String> problemsAsBase(String format) {
    List<String> problems = new ArrayList<>(malformed);
    if ("qcow2".equals(format) && !qcow2) {
      problems.add("it is declared qcow2 but is not a qcow2 image (its first bytes are not"
          + " QFI\\xfb)");
    }
    if ("raw".equals(format) && qcow2) {
      problems.add("it is declared raw but is a qcow2 image; register it as qcow2");
    }
    backingFile.ifPresent(name -> problems.add("its qcow2 header names the backing file '" + name
        + "'; a base image must stand alone (qemu-img convert makes one)"));
    problems.addAll(common());
    return problems;
  }

  /**
   * Why the file may not become a service layer over the base layer whose file is named
   * {@code baseName} beside it (the base's digest, as the image cache names it): empty when it
   * may. A layer is a qcow2 that names exactly that backing file, no other (a path would reach
   * any file of the host), and passes the checks of a base image otherwise.
   */
  public List<String> problemsAsLayer(String baseName) {
    List<String> problems = new ArrayList<>(malformed);
    if (!qcow2) {
      problems.add("it is declared a qcow2 service layer but is not a qcow2 image (its first"
          + " bytes are not QFI\\xfb)");
    }
    if (backingFile.isEmpty()) {
      problems.add("it is declared a service layer over base layer " + baseName
          + " but its qcow2 header names no backing file");
    }
    backingFile.filter(name -> !name.equals(baseName)).ifPresent(name -> problems.add(
        "its qcow2 header names the backing file '" + name + "'; a service layer may name only"
            + " its base layer, " + baseName));
    problems.addAll(common());
    return problems;
  }

  /**
   * Why the file may not become a VM's disk from an archive, whose VM's disk is
   * {@code diskBytes} large: empty when it may. An archived overlay's backing file is the host
   * that archived it's, and is replaced before anything opens it, so only what QEMU would open
   * with the overlay itself (an external data file) and sizes count.
   */
  public List<String> problemsAsOverlay(long diskBytes) {
    List<String> problems = new ArrayList<>(malformed);
    if (!qcow2) {
      problems.add("it is not a qcow2 overlay (its first bytes are not QFI\\xfb)");
    }
    if (virtualSizeBytes > diskBytes) {
      problems.add("its qcow2 header declares a virtual size of " + virtualSizeBytes
          + " bytes, more than the VM's disk of " + diskBytes + " bytes");
    }
    problems.addAll(common());
    return problems;
  }

  private List<String> common() {
    List<String> problems = new ArrayList<>();
    externalDataFile.ifPresent(name -> problems.add("its qcow2 header names the external data"
        + " file '" + name + "', which QEMU would open beside the image"));
    if (encrypted) {
      problems.add("it is an encrypted qcow2 image, which the farm cannot boot");
    }
    if (qcow2 && fileSizeBytes > largestFileFor(virtualSizeBytes)) {
      problems.add("it holds " + fileSizeBytes + " bytes, more than a qcow2 image of its declared"
          + " virtual size of " + virtualSizeBytes + " bytes needs (at most "
          + largestFileFor(virtualSizeBytes) + ")");
    }
    return problems;
  }

  /** The most bytes a qcow2 file of the virtual size holds: its data and its metadata. */
  public static long largestFileFor(long virtualSizeBytes) {
    long size = Math.max(virtualSizeBytes, 0);
    return size + size / 8 + METADATA_ALLOWANCE_BYTES;
  }
}
