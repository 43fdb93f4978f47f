package org.servicefarm.controller.images;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Semaphore;
import org.servicefarm.controller.db.ImageRepository.BuiltImage;
import org.servicefarm.controller.db.ImageRepository.Composition;

/**
 * One composed image: the shared base layer (found, fetched or composed by {@link BaseLayers}),
 * then the service layer on it ({@link ServiceLayerBuild}), stored in the blob store. Holds one of
 * the controller's composition permits while it builds the service layer (the base takes its
 * own while it is composed). Knows nothing of the image's row.
 */
final class LayeredImageBuild {
  /** What the build produced and how long each part took. */
  record Result(BuiltImage built, ImageConstructor.BuildPhases phases, boolean baseComposed,
      long baseLayerBytes) {}

  private final Path dir;
  private final Path log;
  private final BaseLayers bases;
  private final LayerCache cache;
  private final BlobStorage blobs;
  private final BuildAccount account;
  private final Semaphore compositions;
  private final BaseLayerBuild.Steps steps;

  LayeredImageBuild(Path dir, Path log, BaseLayers bases, LayerCache cache, BlobStorage blobs,
      BuildAccount account, Semaphore compositions, Duration toolTimeout, Instant deadline) {
    this.dir = dir;
    this.log = log;
    this.bases = bases;
    this.cache = cache;
    this.blobs = blobs;
    this.account = account;
    this.compositions = compositions;
    this.steps = () -> {
      Duration left = Duration.between(Instant.now(), deadline);
      if (left.isNegative() || left.isZero()) {
        throw new ToolRunner.ToolFailure("the build ran past its deadline (" + deadline + ")");
      }
      return left.compareTo(toolTimeout) < 0 ? left : toolTimeout;
    };
  }

  Result run(Composition composition)
      throws ToolRunner.ToolFailure, IOException, InterruptedException {
    BaseLayers.Obtained base = bases.ensure(steps, log);
    compositions.acquire();
    ServiceLayerBuild.Result layer;
    try {
      layer = new ServiceLayerBuild(dir, log, account, cache.packages(), steps)
          .run(base.layer(), composition);
    } finally {
      compositions.release();
    }
    return stored(base, layer);
  }

  /**
   * The image of an OCI image archive (the blob {@code archiveSha256}) with the definition's
   * command: its layers applied ({@link OciLayers}) and unpacked over the base layer.
   */
  Result runOci(Composition composition, String archiveSha256)
      throws ToolRunner.ToolFailure, IOException, InterruptedException {
    BaseLayers.Obtained base = bases.ensure(steps, log);
    Path archive = dir.resolve("image.tar");
    try (FileChannel in = blobs.openAt(archiveSha256, 0);
        FileChannel out = FileChannel.open(archive, StandardOpenOption.CREATE_NEW,
            StandardOpenOption.WRITE)) {
      for (long at = 0, size = in.size(); at < size; ) {
        at += in.transferTo(at, size - at, out);
      }
    }
    Path layers = dir.resolve("layers.tar");
    try (OciArchive oci = OciArchive.open(archive)) {
      OciLayers.flatten(oci, oci.read(), layers, OciLayers.Limits.DEFAULT);
    }
    Files.delete(archive);
    compositions.acquire();
    ServiceLayerBuild.Result layer;
    try {
      layer = new ServiceLayerBuild(dir, log, account, cache.packages(), steps)
          .runOci(base.layer(), composition.definition(), composition.command(), layers);
    } finally {
      compositions.release();
    }
    return stored(base, layer);
  }

  private Result stored(BaseLayers.Obtained base, ServiceLayerBuild.Result layer)
      throws IOException {
    Instant storing = Instant.now();
    BlobStore.BlobInfo disk = blobs.adopt(layer.layerFile());
    cache.trimPackages();
    Duration store = Duration.between(storing, Instant.now());
    BaseLayer b = base.layer();
    return new Result(
        new BuiltImage(disk.sha256(), disk.sizeBytes(), b.kernelSha256(), b.initrdSha256(),
            GuestInit.KERNEL_CMDLINE, b.diskSha256(), b.diskSize()),
        new ImageConstructor.BuildPhases(base.took().plus(layer.install()), layer.write(),
            layer.delta(), store, base.took(), base.composed()),
        base.composed(), b.diskSize());
  }
}
