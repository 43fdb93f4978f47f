package org.servicefarm.agent.images;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;

/** Words a failed write so an operator sees where, how much, and how much room there was. */
public final class HostDiskSpace {
  private static final long MIB = 1 << 20;

  private HostDiskSpace() {}

  /**
   * "writing /x/upload.gz failed after 12 MiB (No space left on device); its file system has
   * 0 MiB free of 64 MiB": the half-written file is gone by the time this is read.
   */
  public static String describeWriteFailure(Path file, long writtenBytes, IOException cause) {
    Path existing = file.toAbsolutePath().getParent();
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent(); // the directory itself may be what could not be made
    }
    String room = "";
    if (existing != null) {
      try {
        FileStore store = Files.getFileStore(existing);
        room = "; its file system has " + store.getUsableSpace() / MIB + " MiB free of "
            + store.getTotalSpace() / MIB + " MiB";
      } catch (IOException unknown) {
        // The failure is still worth reporting without the sizes.
      }
    }
    return "writing " + file + " failed after " + writtenBytes / MIB + " MiB (" + cause + ")"
        + room;
  }

  /**
   * Whether the failure (or one of its causes) is a full file system: ENOSPC, or EDQUOT for a
   * quota. Java gives no error number, only the system's message.
   */
  public static boolean isNoSpace(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      String message = String.valueOf(t.getMessage());
      if (message.contains("No space left on device") || message.contains("Disk quota exceeded")) {
        return true;
      }
    }
    return false;
  }
}
