package org.servicefarm.controller.images;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * Removes a build's directory safely. A composing tool killed halfway (a root controller stopped
 * while mmdebstrap ran) can leave the host's /proc, /sys or /dev mounted inside the root file
 * system it was making; deleting "recursively" through such a mount would delete the host's
 * files. So nothing is removed while anything under the directory is mounted (a root controller
 * first unmounts what is mounted there, deepest first), and the walk never leaves the directory's
 * own file system. A build composed in a user namespace has no such mounts left (they ended with
 * it); its tree, partly owned by the account's subordinate ids, is removed in such a namespace.
 */
final class BuildDirectory {
  private static final Logger LOG = Logger.getLogger(BuildDirectory.class.getName());
  private static final long TOOL_SECONDS = 600;

  private BuildDirectory() {}

  /**
   * Removes what builds left in {@code buildRoot} (a controller stopped during a build): every
   * directory in it, never the logs beside them. One that cannot be removed is reported and
   * left; the next build of its image tries again.
   */
  static void removeLeftovers(Path buildRoot, BuildAccount account) throws IOException {
    if (!Files.isDirectory(buildRoot, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    List<Path> leftovers;
    try (Stream<Path> entries = Files.list(buildRoot)) {
      leftovers = entries.filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)).toList();
    }
    for (Path dir : leftovers) {
      try {
        remove(dir, account);
        LOG.info("removed " + dir + ", left by a build that did not finish");
      } catch (IOException e) {
        LOG.warning("could not remove " + dir + ", left by a build that did not finish: "
            + e.getMessage());
      }
    }
  }

  /**
   * Removes {@code dir} as {@code account} can: a root controller unmounts what a build left
   * mounted there first; a controller that composes in a user namespace removes the tree in one.
   */
  static void remove(Path dir, BuildAccount account) throws IOException {
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    Path real = dir.toRealPath();
    List<String> mounted = mountsUnder(real);
    if (!mounted.isEmpty() && account.asRoot()) {
      // Deepest first: /dev/pts goes before /dev. Lazily, so a process still holding one cannot
      // keep the mount; detaching a bind mount leaves its source (the host's /dev) as it was.
      List<String> deepestFirst = new ArrayList<>(mounted);
      deepestFirst.sort(Comparator.comparingInt(String::length).reversed());
      for (String point : deepestFirst) {
        runTool(List.of("umount", "--lazy", point), "unmount " + point);
      }
      LOG.info("unmounted what a build left mounted in " + real + ": " + mounted);
    } else if (account.inUserNamespace() && mounted.isEmpty()) {
      runTool(account.privileged(List.of("rm", "-rf", "--one-file-system", "--", real.toString())),
          "remove " + real);
      return;
    }
    remove(real);
  }

  /** Removes {@code dir} and everything in it; a missing directory is already removed. */
  static void remove(Path dir) throws IOException {
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    Path real = dir.toRealPath();
    List<String> mounted = mountsUnder(real);
    if (!mounted.isEmpty()) {
      throw new IOException("not removing " + real + ": still mounted inside it: "
          + String.join(", ", mounted) + " (unmount them, then remove it)");
    }
    Object device = Files.getAttribute(real, "unix:dev", LinkOption.NOFOLLOW_LINKS);
    Files.walkFileTree(real, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs)
          throws IOException {
        if (!device.equals(Files.getAttribute(d, "unix:dev", LinkOption.NOFOLLOW_LINKS))) {
          throw new IOException("not removing " + d + ": it is on another file system");
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
        Files.delete(f);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path d, IOException failure) throws IOException {
        if (failure != null) {
          throw failure;
        }
        Files.delete(d);
        return FileVisitResult.CONTINUE;
      }
    });
  }

  /** Mount points at or below {@code dir}, from the kernel's table of this process's mounts. */
  static List<String> mountsUnder(Path dir) throws IOException {
    Path table = Path.of("/proc/self/mountinfo");
    if (!Files.exists(table)) {
      return List.of();
    }
    String prefix = dir.toString();
    return Files.readAllLines(table, StandardCharsets.UTF_8).stream()
        .map(line -> line.split(" "))
        .filter(fields -> fields.length > 4)
        // Field 5 is the mount point, with spaces and such escaped as octal (\\040).
        .map(fields -> fields[4].replace("\\040", " "))
        .filter(point -> point.equals(prefix) || point.startsWith(prefix + "/"))
        .toList();
  }

  private static void runTool(List<String> argv, String what) throws IOException {
    List<String> command = new ArrayList<>(argv);
    try {
      command.set(0, ToolRunner.locate(argv.get(0)));
    } catch (ToolRunner.ToolFailure e) {
      throw new IOException("cannot " + what + ": " + e.getMessage(), e);
    }
    Path output = Files.createTempFile("servicefarm-cleanup", ".out");
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(output.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
      if (!process.waitFor(TOOL_SECONDS, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IOException("cannot " + what + ": " + argv.get(0) + " did not finish within "
            + TOOL_SECONDS + " s");
      }
      if (process.exitValue() != 0) {
        throw new IOException("cannot " + what + ": " + argv.get(0) + " exited with status "
            + process.exitValue() + ": " + Files.readString(output, StandardCharsets.UTF_8).strip());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while trying to " + what, e);
    } finally {
      Files.deleteIfExists(output);
    }
  }
}
