package org.servicefarm.controller.images;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Where images may come from and how much the image store holds.
 *
 * @param importDirectory the only directory {@code RegisterImage} reads from; empty: registering
 *     by path is off (images are uploaded instead)
 * @param storeQuotaBytes what the image store may hold in all (images, layers, archives); an
 *     upload that would pass it is refused
 * @param layerCache where base layers and Debian packages are kept (may be shared by several
 *     controllers on one machine); empty: {@code <data-dir>/layer-cache}
 * @param maxCompositions how many layers (base or service) may be composed at once
 * @param packageCacheBytes what the package cache may hold
 * @param blobGrace how long an unreferenced blob stays in the store before it is collected
 */
public record ImageSettings(Optional<Path> importDirectory, long storeQuotaBytes,
    Optional<Path> layerCache, int maxCompositions, long packageCacheBytes,
    java.time.Duration blobGrace) {
  public static final java.time.Duration DEFAULT_BLOB_GRACE = java.time.Duration.ofHours(24);
  public static final long DEFAULT_STORE_QUOTA_BYTES = 100L << 30;

  public ImageSettings {
    if (storeQuotaBytes <= 0) {
      throw new IllegalArgumentException("the image store quota must be positive, not "
          + storeQuotaBytes);
    }
  }

  public ImageSettings(Optional<Path> importDirectory, long storeQuotaBytes) {
    this(importDirectory, storeQuotaBytes, Optional.empty(),
        ImageConstructor.Settings.DEFAULT_MAX_COMPOSITIONS,
        ImageConstructor.Settings.DEFAULT_PACKAGE_CACHE_BYTES, DEFAULT_BLOB_GRACE);
  }

  /** No import directory, the default quota. */
  public static ImageSettings defaults() {
    return new ImageSettings(Optional.empty(), DEFAULT_STORE_QUOTA_BYTES);
  }

  public ImageSettings withImportDirectory(Path directory) {
    return new ImageSettings(Optional.of(directory), storeQuotaBytes, layerCache,
        maxCompositions, packageCacheBytes, blobGrace);
  }

  public ImageSettings withStoreQuotaBytes(long bytes) {
    return new ImageSettings(importDirectory, bytes, layerCache, maxCompositions,
        packageCacheBytes, blobGrace);
  }

  /** With the layer cache in {@code directory}, at most {@code max} compositions at once. */
  public ImageSettings withComposition(Optional<Path> directory, int max, long packageBytes) {
    return new ImageSettings(importDirectory, storeQuotaBytes, directory, max, packageBytes,
        blobGrace);
  }

  /** With unreferenced blobs collected once they are {@code grace} old. */
  public ImageSettings withBlobGrace(java.time.Duration grace) {
    return new ImageSettings(importDirectory, storeQuotaBytes, layerCache, maxCompositions,
        packageCacheBytes, grace);
  }

  /** The image constructor's settings for a controller whose data directory is {@code dataDir}. */
  public ImageConstructor.Settings constructorSettings(Path dataDir) {
    ImageConstructor.Settings settings = ImageConstructor.Settings.defaults(dataDir)
        .withMaxCompositions(maxCompositions).withPackageCacheBytes(packageCacheBytes);
    return layerCache.map(settings::withLayerCache).orElse(settings);
  }
}
