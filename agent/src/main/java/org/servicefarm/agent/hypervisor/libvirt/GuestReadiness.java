package org.servicefarm.agent.hypervisor.libvirt;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Waits for a cold-booted composed guest to say on its serial console that every service port
 * listens. Until then a forwarded port accepts connections (QEMU's user networking answers for
 * the guest) but nothing serves them, so answering "running" earlier would hand out an endpoint
 * that does not work yet.
 *
 * <p>The console's directory is watched (inotify on Linux), so the ready line is seen as QEMU
 * writes it, not at the next tick of a poll; the file is also read every {@link #SAFETY_MILLIS}
 * ms in case a change goes unreported (a file system without change notices), and every
 * {@link #POLL_MILLIS} ms where the directory cannot be watched at all.
 */
final class GuestReadiness {
  /** Printed by the composed image's init once each port in sf.ports= listens. */
  static final String READY_MARKER = "servicefarm: ready";
  private static final Logger log = LoggerFactory.getLogger(GuestReadiness.class);
  private static final long SAFETY_MILLIS = 500;
  private static final long POLL_MILLIS = 100;
  private static final int TAIL_CHARS = 1500;
  private static final int CHUNK_BYTES = 64 * 1024;

  private GuestReadiness() {}

  static void await(String vmId, Path consoleLog, Duration timeout) throws HypervisorException {
    long deadline = System.nanoTime() + timeout.toNanos();
    ConsoleReader console = new ConsoleReader(consoleLog);
    WatchService watch = watch(vmId, consoleLog);
    try {
      while (true) {
        if (console.sawMarker()) {
          return;
        }
        long leftMillis = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (leftMillis <= 0) {
          break;
        }
        awaitChange(vmId, watch, consoleLog.getFileName(),
            Math.min(leftMillis, watch == null ? POLL_MILLIS : SAFETY_MILLIS));
      }
    } finally {
      closeQuietly(watch);
    }
    throw new HypervisorException(HypervisorException.Kind.HYPERVISOR, "vm " + vmId
        + " booted but its services did not listen within " + timeout.toSeconds()
        + " s; console tail:\n" + console.tail());
  }

  /** A watch on the console's directory, or null (then the file is polled) when there is none. */
  private static WatchService watch(String vmId, Path consoleLog) {
    Path dir = consoleLog.toAbsolutePath().getParent();
    WatchService watch = null;
    try {
      watch = dir.getFileSystem().newWatchService();
      dir.register(watch, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY);
      return watch;
    } catch (IOException | UnsupportedOperationException e) {
      // Out of inotify watches, or a directory this agent may not watch: polling still works.
      log.info("vm {}: cannot watch {} ({}); polling its console every {} ms", vmId, dir,
          e.getMessage(), POLL_MILLIS);
      closeQuietly(watch);
      return null;
    }
  }

  /**
   * Returns when the console file changed, or after {@code millis}. Other guests' consoles in the
   * same directory do not end the wait.
   */
  private static void awaitChange(String vmId, WatchService watch, Path console, long millis)
      throws HypervisorException {
    try {
      if (watch == null) {
        Thread.sleep(millis);
        return;
      }
      long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
      long left;
      while ((left = until - System.nanoTime()) > 0) {
        WatchKey key = watch.poll(left, TimeUnit.NANOSECONDS);
        if (key == null) {
          return;
        }
        boolean ours = key.pollEvents().stream().anyMatch(event ->
            event.kind() == StandardWatchEventKinds.OVERFLOW || console.equals(event.context()));
        key.reset();
        if (ours) {
          return;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new HypervisorException(HypervisorException.Kind.HYPERVISOR,
          "interrupted while vm " + vmId + " was booting", e);
    } catch (ClosedWatchServiceException e) {
      throw new IllegalStateException("the console watch of vm " + vmId + " closed under it", e);
    }
  }

  private static void closeQuietly(WatchService watch) {
    if (watch == null) {
      return;
    }
    try {
      watch.close();
    } catch (IOException e) {
      log.debug("closing a console watch failed: {}", e.getMessage());
    }
  }

  /**
   * Reads what the console gained since the last read, keeping enough of the end to find a
   * marker split across two reads and to show the tail when the guest never gets ready.
   */
  private static final class ConsoleReader {
    private final Path file;
    private long position;
    private String tail = "";

    ConsoleReader(Path file) {
      this.file = file;
    }

    /** Whether the console, read up to its end now, shows the marker. */
    boolean sawMarker() {
      if (!Files.exists(file)) {
        return false; // QEMU creates the file as it starts; the next change or poll reads it
      }
      try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
        if (channel.size() < position) {
          position = 0; // truncated: a new boot's console
          tail = "";
        }
        ByteBuffer chunk = ByteBuffer.allocate(CHUNK_BYTES);
        int read;
        while ((read = channel.read(chunk.clear(), position)) > 0) {
          position += read;
          String text = tail + new String(chunk.array(), 0, read, StandardCharsets.ISO_8859_1);
          tail = text.length() > TAIL_CHARS ? text.substring(text.length() - TAIL_CHARS) : text;
          if (text.contains(READY_MARKER)) {
            return true;
          }
        }
        return false;
      } catch (IOException notYetReadable) {
        return false; // the next change or poll reads it again
      }
    }

    String tail() {
      return tail;
    }
  }
}
