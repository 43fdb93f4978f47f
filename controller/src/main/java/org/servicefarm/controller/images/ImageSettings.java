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
 */
public record ImageSettings(Optional<Path> importDirectory, long storeQuotaBytes) {
  public static final long DEFAULT_STORE_QUOTA_BYTES = 100L << 30;

  public ImageSettings {
    if (storeQuotaBytes <= 0) {
      throw new IllegalArgumentException("the image store quota must be positive, not "
          + storeQuotaBytes);
    }
  }

  /** No import directory, the default quota. */
  public static ImageSettings defaults() {
    return new ImageSettings(Optional.empty(), DEFAULT_STORE_QUOTA_BYTES);
  }

  public ImageSettings withImportDirectory(Path directory) {
    return new ImageSettings(Optional.of(directory), storeQuotaBytes);
  }

  public ImageSettings withStoreQuotaBytes(long bytes) {
    return new ImageSettings(importDirectory, bytes);
  }
}
