package org.servicefarm.e2e.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What a test's farm leaves when it closes, and how it is put away: its processes' logs kept for
 * reading after a failure, its real guests removed, its directory deleted without reaching through
 * a mount.
 */
public final class FarmLeftovers {
  private FarmLeftovers() {}

  /**
   * Copies the processes' logs to e2e/target/farm-logs/ before the farm's directory goes: a test
   * that failed in CI is then read from its logs, not guessed at.
   */
  static void keepLogs(Path dir) {
    Path logs = dir.resolve("logs");
    if (!Files.isDirectory(logs)) {
      return;
    }
    Path kept = FarmJars.root().resolve("e2e/target/farm-logs").resolve(dir.getFileName());
    try (java.util.stream.Stream<Path> files = Files.list(logs)) {
      Files.createDirectories(kept);
      for (Path log : files.filter(Files::isRegularFile).toList()) {
        Files.copy(log, kept.resolve(log.getFileName()),
            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      System.err.println("cannot keep the logs of " + dir + " in " + kept + ": " + e);
    }
  }

  /** Guests of a real hypervisor outlive the farm's processes; a test leaves none behind. */
  static void removeDomains(String libvirtUri, List<String> vmIds) {
    for (String id : vmIds) {
      try {
        RealGuests.run("virsh", "-q", "-c", libvirtUri, "destroy", "sf-" + id);
        RealGuests.run("virsh", "-q", "-c", libvirtUri, "undefine", "--managed-save", "sf-" + id);
      } catch (IOException e) {
        System.err.println("cannot remove domain sf-" + id + ": " + e.getMessage());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /**
   * Deletes a test's directory; a failure is reported, not fatal: the test's outcome stands. A
   * directory with a file system still mounted under it is left alone: a controller stopped while
   * composing an image may leave its chroot's mounts (/proc, /sys, a bind of /dev/shm), and
   * deleting through them would delete the host's files.
   */
  public static void deleteTree(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try {
      String prefix = root.toRealPath() + "/";
      if (Files.readAllLines(Path.of("/proc/self/mounts")).stream()
          .map(line -> line.split(" ")[1]).anyMatch(point -> point.startsWith(prefix))) {
        System.err.println("WARNING: " + root + " has file systems mounted under it; left in"
            + " place: unmount them, then delete it");
        return;
      }
    } catch (IOException e) {
      System.err.println("cannot check mounts under " + root + ", not deleting it: " + e);
      return;
    }
    try (java.util.stream.Stream<Path> paths = Files.walk(root)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      System.err.println("cannot delete " + root + ": " + e.getMessage());
    }
  }
}
