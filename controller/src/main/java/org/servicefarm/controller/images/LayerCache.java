package org.servicefarm.controller.images;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * The controller's layer cache ({@code <data-dir>/layer-cache}, or {@code --layer-cache DIR},
 * which several controllers on one machine may share): Debian packages ({@code packages/},
 * bounded, oldest out first) and composed base layers ({@code bases/<key>/}, see
 * {@link BaseLayer}). A base is made under a lock file beside it, so processes sharing the
 * directory compose it once; inside one process a lock per key comes first (a file lock is the
 * process's, not a thread's).
 */
final class LayerCache {
  private static final Logger LOG = Logger.getLogger(LayerCache.class.getName());

  private final Path dir;
  private final long maxPackageBytes;
  private final ConcurrentMap<String, ReentrantLock> locks = new ConcurrentHashMap<>();

  LayerCache(Path dir, long maxPackageBytes) {
    this.dir = dir.toAbsolutePath().normalize();
    this.maxPackageBytes = maxPackageBytes;
  }

  Path packages() throws IOException {
    return Files.createDirectories(dir.resolve("packages"));
  }

  Path base(String key) {
    return dir.resolve("bases").resolve(key);
  }

  /** A directory in {@code bases/} to make a base in before it is moved to its key's name. */
  Path newBaseWork(String key) throws IOException {
    Path bases = Files.createDirectories(dir.resolve("bases"));
    return Files.createTempDirectory(bases, "." + key.substring(0, 16) + "-");
  }

  /** A lock held until closed. */
  interface Held extends AutoCloseable {
    @Override
    void close() throws IOException;
  }

  /** Holds the base's key in this process and in every process sharing the directory. */
  Held lockBase(String key) throws IOException, InterruptedException {
    ReentrantLock local = locks.computeIfAbsent(key, k -> new ReentrantLock());
    local.lockInterruptibly();
    try {
      Path lockFile = Files.createDirectories(dir.resolve("bases")).resolve(key + ".lock");
      FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE,
          StandardOpenOption.WRITE);
      FileLock lock;
      try {
        lock = channel.lock(); // blocks while another process composes this base
      } catch (IOException | RuntimeException e) {
        channel.close();
        throw e;
      }
      return () -> {
        try (channel) {
          lock.release();
        } finally {
          local.unlock();
        }
      };
    } catch (IOException | RuntimeException e) {
      local.unlock();
      throw e;
    }
  }

  /**
   * Removes base layers' work directories ({@code bases/.<key>-*}) that no process is composing
   * in: left by one that stopped while composing. A composition holds its key's lock file, so a
   * work directory whose key's lock this process can take is nobody's (the cache may be shared
   * with live processes; their work directories stay). Called at start, before any build.
   */
  void removeLeftoverWork(BuildAccount account) throws IOException {
    Path bases = dir.resolve("bases");
    if (!Files.isDirectory(bases)) {
      return;
    }
    List<Path> work;
    try (Stream<Path> entries = Files.list(bases)) {
      work = entries.filter(p -> p.getFileName().toString().startsWith(".")
          && Files.isDirectory(p)).toList();
    }
    for (Path p : work) {
      String keyPrefix = p.getFileName().toString().substring(1).split("-", 2)[0];
      List<Path> locks;
      try (Stream<Path> entries = Files.list(bases)) {
        locks = entries.filter(l -> l.getFileName().toString().startsWith(keyPrefix)
            && l.getFileName().toString().endsWith(".lock")).toList();
      }
      if (locks.isEmpty() || locks.stream().allMatch(LayerCache::free)) {
        BuildDirectory.remove(p, account);
        LOG.info("removed " + p + ", left by a base layer composition that did not finish");
      }
    }
  }

  /** Whether no process holds the lock file (taken and let go at once). */
  private static boolean free(Path lockFile) {
    try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.WRITE)) {
      FileLock lock = channel.tryLock();
      if (lock == null) {
        return false;
      }
      lock.release();
      return true;
    } catch (IOException | java.nio.channels.OverlappingFileLockException e) {
      return false; // held in this process, or unreadable: left alone
    }
  }

  /** Removes the oldest packages until the package cache fits its bound. */
  void trimPackages() throws IOException {
    record Deb(Path path, long size, FileTime modified) {}
    List<Deb> debs = new ArrayList<>();
    try (Stream<Path> files = Files.list(packages())) {
      for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".deb")).toList()) {
        try {
          debs.add(new Deb(f, Files.size(f), Files.getLastModifiedTime(f)));
        } catch (NoSuchFileException e) {
          LOG.fine(f + " went while the package cache was listed");
        }
      }
    }
    long total = debs.stream().mapToLong(Deb::size).sum();
    debs.sort(Comparator.comparing(Deb::modified));
    for (Deb deb : debs) {
      if (total <= maxPackageBytes) {
        break;
      }
      Files.deleteIfExists(deb.path());
      total -= deb.size();
    }
  }
}
