package org.servicefarm.agent.images;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This host's copies of blobs from the controller's image store (base images, kernels, initrds),
 * one file a blob named by its digest: {@code <cache>/<sha256>}. A blob being fetched lives in
 * {@code <sha256>.partial} until its digest checks out, so a file under a digest's name always
 * holds exactly those bytes.
 *
 * <p>Blobs are handed out as {@link Lease}s: a leased blob is never evicted, which covers the
 * time between fetching a base image and defining the domain whose overlay points at it. After
 * that the domain's metadata says it is in use, and {@link #trim} keeps every blob in use.
 * Recency is the file's modification time, touched on every use, so it survives restarts.
 */
public final class ImageCache {

  private static final Logger log = LoggerFactory.getLogger(ImageCache.class);
  private static final String PARTIAL_SUFFIX = ".partial";

  private final Path dir;
  private final long maxBytes;
  private final BlobTransfers transfers;
  private final Duration unusedGrace;
  public static final Duration DEFAULT_UNUSED_GRACE = Duration.ofHours(24);
  private final Map<String, Integer> leases = new HashMap<>(); // guarded by this
  /** One fetch per digest: later askers wait for it and then find the blob in place. */
  private final ConcurrentMap<String, ReentrantLock> fetchLocks = new ConcurrentHashMap<>();
  private final AtomicLong hits = new AtomicLong();
  private final AtomicLong misses = new AtomicLong();
  private final AtomicLong fetchedBytes = new AtomicLong();
  private final CachedBlobChecks checks = new CachedBlobChecks();

  /**
   * What the cache has done since the agent started: blobs found in place, blobs fetched from
   * the controller's image store, and the bytes those fetches brought.
   */
  public record Stats(long hits, long misses, long fetchedBytes) {}

  public ImageCache(Path dir, long maxBytes, BlobTransfers transfers) throws IOException {
    this(dir, maxBytes, transfers, DEFAULT_UNUSED_GRACE);
  }

  /**
   * @param unusedGrace a blob no domain of this host uses and nobody fetched for this long is
   *     evicted even when the cache is within its bound (the controller collects what nothing
   *     references; a host lets go of what it no longer runs)
   */
  public ImageCache(Path dir, long maxBytes, BlobTransfers transfers, Duration unusedGrace)
      throws IOException {
    this.dir = QemuReadable.directory(dir.toAbsolutePath().normalize());
    this.maxBytes = maxBytes;
    this.transfers = transfers;
    this.unusedGrace = unusedGrace;
  }

  /** A blob held in the cache until closed. */
  public final class Lease implements AutoCloseable {
    private final BlobDigest digest;
    private boolean released; // guarded by ImageCache.this

    private Lease(BlobDigest digest) {
      this.digest = digest;
    }

    public BlobDigest digest() {
      return digest;
    }

    /** The blob's file in the cache. */
    public Path path() {
      return blobPath(digest);
    }

    @Override
    public void close() {
      synchronized (ImageCache.this) {
        if (!released) {
          released = true;
          leases.merge(digest.hex(), -1, (held, minusOne) -> held == 1 ? null : held + minusOne);
        }
      }
    }
  }

  /** The file a blob has (or would have) in the cache. */
  public Path blobPath(BlobDigest digest) {
    return dir.resolve(digest.hex());
  }

  /**
   * The blob, fetched from the image store first unless the cache holds it already.
   *
   * @param expectedSize the blob's size when known, else 0
   * @param what the blob in words for errors, such as "image static-web (kernel)"
   */
  public Lease ensure(BlobDigest digest, long expectedSize, String what)
      throws ImageException, IOException {
    return ensure(digest, expectedSize, what, TransferProgress.NONE);
  }

  /**
   * {@link #ensure(BlobDigest, long, String)}, telling {@code progress} how a fetch goes (a blob
   * already cached, or fetched meanwhile by another caller, reports nothing).
   */
  public Lease ensure(BlobDigest digest, long expectedSize, String what, TransferProgress progress)
      throws ImageException, IOException {
    Lease lease = lease(digest);
    try {
      ReentrantLock fetchLock = fetchLocks.computeIfAbsent(digest.hex(), d -> new ReentrantLock());
      fetchLock.lockInterruptibly();
      try {
        Path blob = blobPath(digest);
        if (Files.isRegularFile(blob)
            && (expectedSize <= 0 || Files.size(blob) == expectedSize)) {
          checks.requireIntact(digest, blob, what);
          Files.setLastModifiedTime(blob, FileTime.fromMillis(System.currentTimeMillis()));
          checks.verified(digest, blob);
          hits.incrementAndGet();
          return lease;
        }
        Path partial = dir.resolve(digest.hex() + PARTIAL_SUFFIX);
        long started = System.nanoTime();
        try {
          transfers.download(digest, expectedSize, partial, what, progress);
        } catch (IOException e) {
          if (HostDiskSpace.isNoSpace(e)) {
            throw outOfSpace(partial, what, e);
          }
          throw e;
        }
        Files.move(partial, blob, StandardCopyOption.ATOMIC_MOVE,
            StandardCopyOption.REPLACE_EXISTING);
        QemuReadable.file(blob);
        checks.verified(digest, blob);
        misses.incrementAndGet();
        fetchedBytes.addAndGet(Files.size(blob));
        log.info("cached {} ({}, {} bytes) in {} ms", what, digest, Files.size(blob),
            (System.nanoTime() - started) / 1_000_000);
        return lease;
      } finally {
        fetchLock.unlock();
      }
    } catch (InterruptedException e) {
      lease.close();
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for the fetch of " + what);
    } catch (ImageException | IOException | RuntimeException e) {
      lease.close();
      throw e;
    }
  }

  /**
   * A fetch that filled the file system: its partial file goes too, since keeping it would keep
   * the disk full for every other write on the host (a sleep, an archive, another VM's disk). The
   * fetch starts afresh once there is room; a fetch cut by the network keeps its partial file
   * and resumes, as before.
   */
  private static IOException outOfSpace(Path partial, String what, IOException cause) {
    long written = 0;
    try {
      written = Files.exists(partial) ? Files.size(partial) : 0;
      Files.deleteIfExists(partial);
    } catch (IOException e) {
      cause.addSuppressed(e);
    }
    return new IOException("fetching " + what + ": "
        + HostDiskSpace.describeWriteFailure(partial, written, cause)
        + "; the partial file was deleted, and the fetch may be retried once there is room", cause);
  }

  public Stats stats() {
    return new Stats(hits.get(), misses.get(), fetchedBytes.get());
  }

  /** Digests of the complete blobs in the cache. */
  public List<String> cachedDigests() throws IOException {
    List<String> digests = new ArrayList<>();
    for (Entry entry : entries()) {
      if (!entry.partial()) {
        digests.add(entry.digest());
      }
    }
    return digests;
  }

  /**
   * Whether {@link #trim} has work: the cache's files (partial ones too) take more than its
   * bound, or a blob was last used longer ago than the grace (it goes unless a domain uses it).
   */
  public synchronized boolean overBound() throws IOException {
    List<Entry> entries = entries();
    FileTime stale = staleBefore();
    return entries.stream().mapToLong(Entry::size).sum() > maxBytes
        || entries.stream().anyMatch(e -> e.lastUsed().compareTo(stale) < 0
            && !leases.containsKey(e.digest()));
  }

  private FileTime staleBefore() {
    return FileTime.from(Instant.now().minus(unusedGrace));
  }

  /**
   * Evicts blobs, least recently used first, until the cache fits its bound again, and every blob
   * last used before the grace. Blobs in
   * {@code inUse} (by this host's domains) and leased blobs stay, even when they alone exceed
   * the bound. Leftover partial files of fetches not running now count and go first by age too.
   *
   * <p>The caller computes {@code inUse} under the same lock it defines domains under, so a blob
   * whose lease ended because its domain was just defined is already in the set.
   */
  public synchronized void trim(Set<String> inUse) throws IOException {
    List<Entry> entries = entries();
    long total = entries.stream().mapToLong(Entry::size).sum();
    FileTime stale = staleBefore();
    List<Entry> evictable = entries.stream()
        .filter(entry -> !inUse.contains(entry.digest()) && !leases.containsKey(entry.digest()))
        .sorted(Comparator.comparing(Entry::lastUsed))
        .toList();
    for (Entry entry : evictable) {
      if (total <= maxBytes && entry.lastUsed().compareTo(stale) >= 0) {
        break; // the rest is younger still: sorted by last use
      }
      Files.deleteIfExists(entry.path());
      total -= entry.size();
      log.info("evicted {} ({} bytes) from the image cache", entry.path().getFileName(),
          entry.size());
    }
    if (total > maxBytes) {
      log.warn("image cache holds {} MiB, above its bound of {} MiB: the rest is in use",
          total >> 20, maxBytes >> 20);
    }
  }

  private synchronized Lease lease(BlobDigest digest) {
    leases.merge(digest.hex(), 1, Integer::sum);
    return new Lease(digest);
  }

  private record Entry(Path path, String digest, boolean partial, long size, FileTime lastUsed) {}

  private List<Entry> entries() throws IOException {
    List<Entry> entries = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path path : files.toList()) {
        String name = path.getFileName().toString();
        boolean partial = name.endsWith(PARTIAL_SUFFIX);
        String digest = partial ? name.substring(0, name.length() - PARTIAL_SUFFIX.length()) : name;
        if (!BlobDigest.isDigest(digest)) {
          continue; // not the cache's: left alone
        }
        try {
          BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class);
          entries.add(new Entry(path, digest, partial, attributes.size(),
              attributes.lastModifiedTime()));
        } catch (NoSuchFileException e) {
          log.debug("{} vanished while listing the image cache", path);
        }
      }
    }
    return entries;
  }
}
