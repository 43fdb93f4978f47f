package org.servicefarm.agent.hypervisor.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** The end of a VM's serial console log, for an operator to read (the dashboard's VM page). */
public final class ConsoleTail {
  /** The most a caller may ask for: a page's worth, not the whole log of a long-lived VM. */
  public static final int MAX_BYTES = 65536;

  private ConsoleTail() {}

  /**
   * At most {@code maxBytes} (bounded by {@link #MAX_BYTES}) from the end of {@code log}; none
   * when the log does not exist (a VM that never booted here, or a simulated one).
   */
  public static byte[] read(Path log, int maxBytes) throws IOException {
    int wanted = Math.max(0, Math.min(maxBytes, MAX_BYTES));
    try (FileChannel in = FileChannel.open(log, StandardOpenOption.READ)) {
      long size = in.size();
      int length = (int) Math.min(wanted, size);
      ByteBuffer tail = ByteBuffer.allocate(length);
      long position = size - length;
      while (tail.hasRemaining()) {
        int read = in.read(tail, position + tail.position());
        if (read < 0) {
          break; // the log was truncated meanwhile: what was read is the tail
        }
      }
      byte[] bytes = new byte[tail.position()];
      tail.flip().get(bytes);
      return bytes;
    } catch (NoSuchFileException none) {
      return new byte[0];
    }
  }
}
