package org.servicefarm.diskimage;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * qcow2 files made byte by byte for tests, hostile ones included, without qemu-img: a version 3
 * header, optionally naming a backing file or an external data file, padded to a length.
 */
public final class Qcow2Bytes {
  private static final int HEADER_LENGTH = 104;
  private static final int DATA_FILE_EXTENSION = 0x44415441;

  private Qcow2Bytes() {}

  /** A standalone image of the virtual size, {@code totalBytes} long (at least 4096). */
  public static byte[] plain(long virtualSize, int totalBytes) {
    return image(virtualSize, null, null, totalBytes);
  }

  /** An image whose header names {@code backing} as its backing file. */
  public static byte[] withBackingFile(long virtualSize, String backing) {
    return image(virtualSize, backing, null, 4096);
  }

  /** An image whose header names {@code dataFile} as its external data file. */
  public static byte[] withDataFile(long virtualSize, String dataFile) {
    return image(virtualSize, null, dataFile, 4096);
  }

  private static byte[] image(long virtualSize, String backing, String dataFile, int total) {
    ByteBuffer b = ByteBuffer.allocate(Math.max(total, 4096));
    b.put(new byte[] {'Q', 'F', 'I', (byte) 0xfb});
    b.putInt(4, 3); // version
    b.putInt(20, 16); // cluster_bits: 64 KiB clusters
    b.putLong(24, virtualSize);
    b.putInt(96, 4); // refcount_order
    b.putInt(100, HEADER_LENGTH);
    int at = HEADER_LENGTH;
    if (dataFile != null) {
      byte[] name = dataFile.getBytes(StandardCharsets.UTF_8);
      b.putLong(72, 1L << 2); // incompatible feature: external data file
      b.putInt(at, DATA_FILE_EXTENSION);
      b.putInt(at + 4, name.length);
      b.put(at + 8, name);
      at += 8 + ((name.length + 7) & ~7);
    }
    at += 8; // the end-of-extensions marker: type 0, length 0
    if (backing != null) {
      byte[] name = backing.getBytes(StandardCharsets.UTF_8);
      b.putLong(8, at);
      b.putInt(16, name.length);
      b.put(at, name);
    }
    return b.array();
  }
}
