package org.servicefarm.controller.images;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.controller.db.BaseLayerRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ImageRepository.Composition;
import org.servicefarm.controller.db.ImageRepository;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.ImageRecord;

/**
 * Builds composed images on first use. One build per image at a time: inside this controller,
 * callers asking for an image being built wait for that build; across controllers, the one whose
 * {@code UPDATE ... WHERE build_state IN ('PENDING', 'FAILED')} claims the row builds, and the
 * others poll the row until it is READY or FAILED. A BUILDING row whose claim is older than
 * {@link Settings#staleClaimAfter} belongs to a builder presumed dead, and may be claimed again.
 *
 * <p>An image is a service layer on a shared base layer ({@link LayeredImageBuild}). A build runs
 * in {@code <dataDir>/build/<inputHash>} (removed afterwards) and logs the tools' output to
 * {@code <dataDir>/build/<inputHash>.log} (kept until the next build of the image), the base's
 * composition included when this build composes it. The tools write root file systems with their
 * owners: as the controller's root, or as root of a user namespace when the controller is not
 * root ({@link BuildAccount}).
 */
public final class ImageConstructor {
  private static final Logger LOG = Logger.getLogger(ImageConstructor.class.getName());
  private static final int MAX_ERROR_CHARS = 8000;

  /**
   * @param dataDir the controller's data directory; builds go to {@code build/} in it
   * @param compose how root file systems are composed (suite, mirrors)
   * @param toolTimeout the longest one tool may run
   * @param buildTimeout the longest a whole build may run; less than staleClaimAfter, so a live
   *     build is never taken over
   * @param staleClaimAfter a BUILDING claim older than this is presumed dead
   * @param pollInterval how often a controller waiting for another's build looks at the row
   * @param account how the tools get root over the image's files, or why they cannot
   */
  public record Settings(Path dataDir, ComposeCommand compose, Duration toolTimeout,
      Duration buildTimeout, Duration staleClaimAfter, Duration pollInterval,
      BuildAccount account, Path layerCache, int maxCompositions, long packageCacheBytes) {
    public static final int DEFAULT_MAX_COMPOSITIONS = 2;
    public static final long DEFAULT_PACKAGE_CACHE_BYTES = 4L << 30;

    public Settings {
      if (buildTimeout.compareTo(staleClaimAfter) >= 0) {
        throw new IllegalArgumentException("buildTimeout " + buildTimeout
            + " must be shorter than staleClaimAfter " + staleClaimAfter);
      }
      if (maxCompositions < 1) {
        throw new IllegalArgumentException("at least one composition must be allowed, not "
            + maxCompositions);
      }
    }

    /** Builds as this process's account can, with the layer cache in the data directory. */
    public Settings(Path dataDir, ComposeCommand compose, Duration toolTimeout,
        Duration buildTimeout, Duration staleClaimAfter, Duration pollInterval) {
      this(dataDir, compose, toolTimeout, buildTimeout, staleClaimAfter, pollInterval,
          BuildAccount.ofThisProcess(), dataDir.resolve("layer-cache"), DEFAULT_MAX_COMPOSITIONS,
          DEFAULT_PACKAGE_CACHE_BYTES);
    }

    public static Settings defaults(Path dataDir) {
      return new Settings(dataDir, ComposeCommand.bookworm(), Duration.ofMinutes(20),
          Duration.ofMinutes(40), Duration.ofMinutes(45), Duration.ofSeconds(2));
    }

    /** With the layer cache (packages and base layers) in {@code dir}, which may be shared. */
    public Settings withLayerCache(Path dir) {
      return new Settings(dataDir, compose, toolTimeout, buildTimeout, staleClaimAfter,
          pollInterval, account, dir, maxCompositions, packageCacheBytes);
    }

    /** With at most {@code n} compositions (base or service layers) at once. */
    public Settings withMaxCompositions(int n) {
      return new Settings(dataDir, compose, toolTimeout, buildTimeout, staleClaimAfter,
          pollInterval, account, layerCache, n, packageCacheBytes);
    }

    /** With the package cache bounded to {@code bytes}. */
    public Settings withPackageCacheBytes(long bytes) {
      return new Settings(dataDir, compose, toolTimeout, buildTimeout, staleClaimAfter,
          pollInterval, account, layerCache, maxCompositions, bytes);
    }
  }

  /**
   * How long each phase of a build took: compose (getting the base layer, zero when cached, and
   * installing the packages), filesystem (writing them into the base's file system), convert
   * (the layer's delta and qcow2), store; and of compose, how long the base layer took, and
   * whether it was composed for this build (rather than found in the layer cache or the store).
   */
  public record BuildPhases(Duration compose, Duration filesystem, Duration convert,
      Duration store, Duration base, boolean baseComposed) {
    public Duration total() {
      return compose.plus(filesystem).plus(convert).plus(store);
    }
  }

  private final Database db;
  private final ImageRepository images;
  private final BlobStorage blobs;
  private final Settings settings;
  private final Map<UUID, CompletableFuture<ImageRecord>> inFlight = new ConcurrentHashMap<>();
  private final Map<UUID, BuildPhases> lastPhases = new ConcurrentHashMap<>();
  private final Consumer<Outcome> outcomes;
  private final LayerCache layerCache;
  private final Semaphore compositions;
  private final BaseLayers bases;

  public ImageConstructor(Database db, ImageRepository images, BlobStorage blobs, Path dataDir) {
    this(db, images, blobs, Settings.defaults(dataDir));
  }

  public ImageConstructor(Database db, ImageRepository images, BlobStorage blobs, Settings settings) {
    this(db, images, blobs, settings, outcome -> { });
  }

  /** @param outcomes told how each call of {@link #ensureBuilt} for a composed image ended */
  public ImageConstructor(Database db, ImageRepository images, BlobStorage blobs, Settings settings,
      Consumer<Outcome> outcomes) {
    this.db = db;
    this.images = images;
    this.blobs = blobs;
    this.settings = settings;
    this.outcomes = outcomes;
    this.layerCache = new LayerCache(settings.layerCache(), settings.packageCacheBytes());
    this.compositions = new Semaphore(settings.maxCompositions(), true);
    this.bases = new BaseLayers(db, new BaseLayerRepository(), blobs, layerCache,
        settings.compose(), settings.account(), compositions);
  }

  /** How a composed image became ready for a caller: the controller's image cache, in effect. */
  public enum Outcome {
    /** It was READY already: nothing to build. */
    ALREADY_BUILT,
    /** This call built it. */
    BUILT,
    /** Another caller here, or another controller, built it while this one waited. */
    WAITED_FOR_BUILD,
    /** The build failed. */
    FAILED
  }

  private record Ready(ImageRecord image, Outcome how) {}

  /**
   * The image, READY: as it is when it needs no build, otherwise once this controller or another
   * has built it. A failed build is recorded FAILED with its reason and answered Unavailable
   * naming the image; the next call tries again. Blocks for the build (about a minute).
   */
  public ImageRecord ensureBuilt(ImageRecord image) {
    if (!image.needsBuild()) {
      if (image.composed()) {
        outcomes.accept(Outcome.ALREADY_BUILT);
      }
      return image;
    }
    CompletableFuture<ImageRecord> mine = new CompletableFuture<>();
    CompletableFuture<ImageRecord> running = inFlight.putIfAbsent(image.id(), mine);
    if (running != null) {
      try {
        ImageRecord ready = await(running, image);
        outcomes.accept(Outcome.WAITED_FOR_BUILD);
        return ready;
      } catch (RuntimeException e) {
        outcomes.accept(Outcome.FAILED);
        throw e;
      }
    }
    try {
      Ready ready = claimOrWait(image);
      mine.complete(ready.image());
      outcomes.accept(ready.how());
      return ready.image();
    } catch (RuntimeException e) {
      mine.completeExceptionally(e);
      outcomes.accept(Outcome.FAILED);
      throw e;
    } finally {
      inFlight.remove(image.id(), mine);
    }
  }

  /**
   * Removes the build directories a stopped controller left (unmounting, as root, what a killed
   * mmdebstrap left mounted in them); what cannot be removed is logged and left.
   */
  public void removeLeftoverBuilds() throws IOException {
    BuildDirectory.removeLeftovers(settings.dataDir().resolve("build"), settings.account());
    layerCache.removeLeftoverWork(settings.account());
  }

  /** The phases of the last build of the image by this controller, if it built it. */
  public Optional<BuildPhases> lastPhases(UUID imageId) {
    return Optional.ofNullable(lastPhases.get(imageId));
  }

  private Ready claimOrWait(ImageRecord image) {
    boolean anotherBuilds = false;
    while (true) {
      ImageRecord current = reload(image);
      if (current.ready()) {
        return new Ready(current, Outcome.WAITED_FOR_BUILD);
      }
      if (anotherBuilds && current.buildState().equals("FAILED")) {
        throw new FarmException.Unavailable("image " + image.name()
            + " could not be built (by another controller): " + current.buildError());
      }
      Optional<ImageRecord> claimed =
          db.inTransaction(tx -> images.claimBuild(tx, image.id(), settings.staleClaimAfter()));
      if (claimed.isPresent()) {
        return new Ready(build(claimed.get()), Outcome.BUILT);
      }
      anotherBuilds = true;
      sleep(settings.pollInterval(), image);
    }
  }

  private ImageRecord build(ImageRecord claimed) {
    Instant claimedAt = claimed.buildStartedAt();
    Path buildRoot = settings.dataDir().resolve("build");
    Path dir = buildRoot.resolve(claimed.inputHash());
    Path log = buildRoot.resolve(claimed.inputHash() + ".log");
    LOG.info("building image " + claimed.name() + " in " + dir + " (log " + log + ")");
    try {
      Optional<ImageRecord> oci = db.inTransaction(tx -> images.ociSource(tx, claimed.id()));
      Composition composition = composition(claimed, oci);
      if (!settings.account().canCompose()) {
        throw new ToolRunner.ToolFailure(settings.account().problem().orElseThrow());
      }
      BuildDirectory.remove(dir, settings.account()); // what a crashed build left
      PrivatePaths.directory(buildRoot); // a root file system and its log: the controller's own
      Files.createDirectories(dir);
      Files.deleteIfExists(log);
      LayeredImageBuild build = new LayeredImageBuild(dir, log, bases, layerCache,
          blobs, settings.account(), compositions, settings.toolTimeout(),
          Instant.now().plus(settings.buildTimeout()));
      LayeredImageBuild.Result result = oci.isPresent()
          ? build.runOci(composition, oci.get().sha256())
          : build.run(composition);
      BuildPhases p = result.phases();
      lastPhases.put(claimed.id(), p);
      LOG.info(String.format("built image %s in %.1f s: compose %.1f s, filesystem %.1f s,"
              + " convert %.1f s, store %.1f s; service layer %s (%d bytes) on base layer %s"
              + " (%d bytes, %s)", claimed.name(),
          seconds(p.total()), seconds(p.compose()), seconds(p.filesystem()),
          seconds(p.convert()), seconds(p.store()), result.built().sha256(),
          result.built().sizeBytes(), result.built().baseLayerSha256(), result.baseLayerBytes(),
          result.baseComposed() ? "composed for it" : "cached"));
      return db.inTransaction(tx -> images.markReady(tx, claimed.id(), claimedAt, result.built()))
          .orElseGet(() -> overtaken(claimed));
    } catch (ToolRunner.ToolFailure | IOException | RuntimeException e) {
      throw failed(claimed, claimedAt, e.getMessage(), e);
    } catch (InterruptedException e) {
      // Recorded before the interrupt is restored: the pool refuses an interrupted thread.
      FarmException stopped = failed(claimed, claimedAt, "the controller stopped the build", e);
      Thread.currentThread().interrupt();
      throw stopped;
    } finally {
      removeQuietly(dir, settings.account());
    }
  }

  /**
   * The packages and command to compose (or, for an image built from the OCI image archive
   * {@code oci}, the command), checked against the hash that names the image.
   */
  private Composition composition(ImageRecord image, Optional<ImageRecord> oci)
      throws ToolRunner.ToolFailure {
    Composition c = db.inTransaction(tx -> images.composition(tx, image.id())).orElseThrow(
        () -> new ToolRunner.ToolFailure("no service definition uses image " + image.name()
            + ", so nothing says what to compose"));
    String hash = oci.isPresent()
        ? ImageCatalog.ociInputHash(oci.get().sha256(), c.command())
        : ImageCatalog.inputHash(c.packages(), c.command());
    if (!hash.equals(image.inputHash())) {
      throw new ToolRunner.ToolFailure("definition " + c.definition()
          + " asks for other packages or another command than image " + image.name()
          + " was recorded for");
    }
    return c;
  }

  /** Records the failure (if the claim still holds) and returns what to throw. */
  private FarmException failed(ImageRecord image, Instant claimedAt, String reason, Exception e) {
    String error = reason == null ? e.getClass().getSimpleName() : reason;
    if (error.length() > MAX_ERROR_CHARS) {
      error = "…" + error.substring(error.length() - MAX_ERROR_CHARS);
    }
    LOG.log(Level.WARNING, "build of image " + image.name() + " failed", e);
    // A full store is the operator's to fix, and says so as RESOURCE_EXHAUSTED, not a retry.
    FarmException thrown = e instanceof FarmException.NoCapacity
        ? new FarmException.NoCapacity("image " + image.name() + " could not be built: " + error)
        : new FarmException.Unavailable("image " + image.name() + " could not be built: "
            + error);
    thrown.initCause(e);
    String recorded = error;
    try {
      db.inTransaction(tx -> images.markFailed(tx, image.id(), claimedAt, recorded));
    } catch (RuntimeException recordFailure) {
      // The row stays BUILDING until its claim goes stale; the caller still learns why.
      thrown.addSuppressed(recordFailure);
    }
    return thrown;
  }

  private ImageRecord overtaken(ImageRecord claimed) {
    ImageRecord now = reload(claimed);
    if (now.ready()) {
      return now;
    }
    throw new FarmException.Unavailable("image " + claimed.name() + ": this controller's build"
        + " was presumed dead and taken over by another; try again");
  }

  private ImageRecord reload(ImageRecord image) {
    return db.inTransaction(tx -> images.find(tx, image.id())).orElseThrow(
        () -> new FarmException.NotFound("image " + image.name() + " (" + image.id()
            + ") is no longer in the catalog"));
  }

  private static ImageRecord await(CompletableFuture<ImageRecord> running, ImageRecord image) {
    try {
      return running.get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException failure) {
        throw failure;
      }
      throw new IllegalStateException("build of " + image.name() + " failed", e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new FarmException.Unavailable("stopped waiting for image " + image.name()
          + " to be built: the controller is stopping");
    }
  }

  private static void sleep(Duration d, ImageRecord image) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new FarmException.Unavailable("stopped waiting for image " + image.name()
          + " to be built: the controller is stopping");
    }
  }

  private static void removeQuietly(Path dir, BuildAccount account) {
    try {
      BuildDirectory.remove(dir, account);
    } catch (IOException e) {
      // The build's outcome is recorded already; a leftover directory only costs disk space and
      // is removed before the image is next built.
      LOG.log(Level.WARNING, "could not remove build directory " + dir, e);
    }
  }

  private static double seconds(Duration d) {
    return d.toMillis() / 1000.0;
  }
}
