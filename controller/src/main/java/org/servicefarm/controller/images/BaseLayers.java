package org.servicefarm.controller.images;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.logging.Logger;
import org.servicefarm.controller.db.BaseLayerRepository;
import org.servicefarm.controller.db.BaseLayerRepository.BaseLayerRow;
import org.servicefarm.controller.db.Database;

/**
 * Finds or makes the base layer every composed image of this controller builds on, in this
 * order: the layer cache has it (possibly made by another process sharing the cache); the
 * database records it (another controller composed it): its blobs come from the store; else it
 * is composed here. Composing holds the key's lock in the layer cache and in the database
 * ({@link BaseLayerRepository#lockBuild}), so a second request for the same base, from this
 * controller or another, waits for the first and then uses its result.
 */
final class BaseLayers {
  private static final Logger LOG = Logger.getLogger(BaseLayers.class.getName());
  private static final Duration LOCK_POLL = Duration.ofSeconds(1);

  private final Database db;
  private final BaseLayerRepository repository;
  private final BlobStorage blobs;
  private final LayerCache cache;
  private final ComposeCommand compose;
  private final BuildAccount account;
  private final Semaphore compositions;

  BaseLayers(Database db, BaseLayerRepository repository, BlobStorage blobs, LayerCache cache,
      ComposeCommand compose, BuildAccount account, Semaphore compositions) {
    this.db = db;
    this.repository = repository;
    this.blobs = blobs;
    this.cache = cache;
    this.compose = compose;
    this.account = account;
    this.compositions = compositions;
  }

  /** A base and how long getting it took (zero when the cache had it). */
  record Obtained(BaseLayer layer, Duration took, boolean composed) {}

  /** The key of the base this controller composes: what its bytes depend on. */
  String key() {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      StringBuilder inputs = new StringBuilder("servicefarm base layer 3\n");
      inputs.append("suite ").append(compose.suite()).append('\n');
      inputs.append("architecture amd64\n");
      inputs.append("packages ").append(ComposeCommand.BASE_PACKAGES).append('\n');
      inputs.append("mirrors ").append(compose.mirrors()).append('\n');
      inputs.append("init ").append(new GuestInit("", "").script());
      return HexFormat.of().formatHex(sha.digest(inputs.toString()
          .getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK always has SHA-256", e);
    }
  }

  /**
   * The base, ready in the layer cache and its blobs in the store.
   *
   * @param steps bounds the tools (the build's deadline)
   * @param log where a composition's tools write
   */
  @SuppressWarnings("try") // the locks are held for the block, never used in it
  Obtained ensure(BaseLayerBuild.Steps steps, Path log)
      throws ToolRunner.ToolFailure, IOException, InterruptedException {
    long started = System.nanoTime();
    String key = key();
    try (LayerCache.Held held = cache.lockBase(key)) {
      Optional<BaseLayer> local = BaseLayer.read(cache.base(key));
      if (local.isPresent()) {
        store(local.get(), false);
        return new Obtained(local.get(), since(started), false);
      }
      Optional<BaseLayerRepository.BuildLock> lock =
          repository.lockBuild(db, key, LOCK_POLL, steps.timeLeft());
      if (lock.isEmpty()) {
        throw new ToolRunner.ToolFailure("base layer " + key.substring(0, 16) + ": another"
            + " controller composed it for longer than this build may wait");
      }
      try (BaseLayerRepository.BuildLock dbLock = lock.get()) {
        Optional<BaseLayerRow> row = db.inTransaction(tx -> repository.find(tx, key));
        if (row.isPresent() && inStore(row.get())) {
          BaseLayer fetched = fetch(row.get(), steps, log);
          return new Obtained(fetched, since(started), false);
        }
        BaseLayer composed = compose(key, steps, log);
        return new Obtained(composed, since(started), true);
      }
    }
  }

  private BaseLayer compose(String key, BaseLayerBuild.Steps steps, Path log)
      throws ToolRunner.ToolFailure, IOException, InterruptedException {
    compositions.acquire();
    Path work = cache.newBaseWork(key);
    Path target = work.resolve("layer");
    try {
      LOG.info("composing base layer " + key.substring(0, 16) + " (" + compose.suite() + ")");
      long started = System.nanoTime();
      BaseLayer built = new BaseLayerBuild(work, log, compose, account, cache.packages(), steps)
          .run(key, target);
      Path finalDir = cache.base(key);
      BuildDirectory.remove(finalDir, account); // an incomplete one a crash left
      Files.move(target, finalDir, StandardCopyOption.ATOMIC_MOVE);
      BaseLayer layer = BaseLayer.read(finalDir).orElseThrow(() -> new IOException(
          "base layer " + finalDir + " is incomplete right after it was composed"));
      store(layer, true);
      LOG.info(String.format("composed base layer %s in %.1f s: disk %s (%d bytes), tree %d"
              + " bytes", key.substring(0, 16), (System.nanoTime() - started) / 1e9,
          layer.diskSha256(), layer.diskSize(), layer.treeSize()));
      cache.trimPackages();
      return layer;
    } finally {
      compositions.release();
      BuildDirectory.remove(work, account);
    }
  }

  /** The base another controller composed, from the blob store into the layer cache. */
  private BaseLayer fetch(BaseLayerRow row, BaseLayerBuild.Steps steps, Path log)
      throws ToolRunner.ToolFailure, IOException, InterruptedException {
    Path work = cache.newBaseWork(row.key());
    try {
      copyOut(row.diskSha256(), work.resolve(BaseLayer.DISK));
      copyOut(row.treeSha256(), work.resolve(BaseLayer.TREE));
      copyOut(row.kernelSha256(), work.resolve(BaseLayer.KERNEL));
      copyOut(row.initrdSha256(), work.resolve(BaseLayer.INITRD));
      new ToolRunner(work, log).run("base-raw", List.of("qemu-img", "convert", "-f", "qcow2",
          "-O", "raw", work.resolve(BaseLayer.DISK).toString(),
          work.resolve(BaseLayer.RAW).toString()), steps.timeLeft());
      BaseLayer layer = new BaseLayer(row.key(), work, row.diskSha256(), row.diskSize(),
          row.treeSha256(), row.treeSize(), row.kernelSha256(), row.initrdSha256());
      layer.writeProperties();
      Path finalDir = cache.base(row.key());
      BuildDirectory.remove(finalDir, account);
      Files.move(work, finalDir, StandardCopyOption.ATOMIC_MOVE);
      LOG.info("base layer " + row.key().substring(0, 16) + " taken from the blob store");
      return BaseLayer.read(finalDir).orElseThrow();
    } catch (IOException | ToolRunner.ToolFailure | InterruptedException | RuntimeException e) {
      BuildDirectory.remove(work, account);
      throw e;
    }
  }

  private void copyOut(String sha256, Path to) throws IOException {
    try (FileChannel in = blobs.openAt(sha256, 0);
        InputStream stream = Channels.newInputStream(in)) {
      Files.copy(stream, to);
    }
  }

  /**
   * Puts the base's blobs into the store (a no-op for those there) and records the base. The tree
   * (hundreds of MB) is stored only by the process that composed the base: it serves other
   * machines' controllers, which take a base from the store only when all four blobs are there
   * and compose it otherwise; a base found in a shared layer cache costs only its disk, kernel
   * and initrd, which agents need (and is not recorded in this farm's {@code base_layers}, whose
   * rows name bases whose four blobs the store holds).
   */
  private void store(BaseLayer layer, boolean withTree) {
    List<Path> parts = withTree
        ? List.of(layer.disk(), layer.tree(), layer.kernel(), layer.initrd())
        : List.of(layer.disk(), layer.kernel(), layer.initrd());
    for (Path part : parts) {
      Optional<BlobStore.BlobInfo> there = blobs.stat(sha256Of(layer, part));
      if (there.isEmpty()) {
        blobs.copyIn(part, sha256Of(layer, part), -1);
      }
    }
    if (!withTree) {
      return; // recorded by the process that composed it, whose farm holds the tree
    }
    db.inTransaction(tx -> {
      repository.record(tx, new BaseLayerRow(layer.key(), layer.diskSha256(), layer.diskSize(),
          layer.treeSha256(), layer.treeSize(), layer.kernelSha256(), layer.initrdSha256()));
      return null;
    });
  }

  private boolean inStore(BaseLayerRow row) {
    return List.of(row.diskSha256(), row.treeSha256(), row.kernelSha256(), row.initrdSha256())
        .stream().allMatch(sha -> blobs.stat(sha).isPresent());
  }

  private static String sha256Of(BaseLayer layer, Path part) {
    if (part.equals(layer.disk())) {
      return layer.diskSha256();
    }
    if (part.equals(layer.tree())) {
      return layer.treeSha256();
    }
    return part.equals(layer.kernel()) ? layer.kernelSha256() : layer.initrdSha256();
  }

  private static Duration since(long startedNanos) {
    return Duration.ofNanos(System.nanoTime() - startedNanos);
  }
}
