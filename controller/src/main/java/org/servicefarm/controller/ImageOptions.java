package org.servicefarm.controller;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.servicefarm.controller.images.ImageSettings;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The controller's options for what enters the image store: by path, and how much in all. */
final class ImageOptions {

  @Spec(Spec.Target.MIXEE)
  CommandSpec controller;

  @Option(names = "--image-import-dir", paramLabel = "DIR", description = "the only directory"
      + " RegisterImage (farmctl image register --path) reads image files from; files there are"
      + " read without following symbolic links (default: none, registering by path is off;"
      + " upload images instead)")
  Path imageImportDir;

  @Option(names = "--image-store-quota-gb", paramLabel = "GIB", defaultValue = "100",
      description = "what the image store (images, composed layers, VM archives) may hold in all;"
          + " an upload or archive that would pass it is refused (default: ${DEFAULT-VALUE})")
  long imageStoreQuotaGb;

  @Option(names = "--layer-cache", paramLabel = "DIR", description = "where composed base"
      + " layers and downloaded Debian packages are kept; controllers on one machine may share"
      + " it (default: <data-dir>/layer-cache)")
  Path layerCache;

  @Option(names = "--max-compositions", paramLabel = "N", defaultValue = "2",
      description = "how many image layers may be composed at once; more wait"
          + " (default: ${DEFAULT-VALUE})")
  int maxCompositions;

  @Option(names = "--package-cache-gb", paramLabel = "GIB", defaultValue = "4",
      description = "what the cache of downloaded Debian packages may hold"
          + " (default: ${DEFAULT-VALUE})")
  long packageCacheGb;

  @Option(names = "--blob-grace-hours", paramLabel = "HOURS", defaultValue = "24",
      description = "how long a blob nothing refers to (a superseded build, a deleted VM's"
          + " archive) stays in the image store before the hourly collection removes it"
          + " (default: ${DEFAULT-VALUE})")
  long blobGraceHours;

  /** The settings the options give; a quota under 1 GiB or an unusable directory is refused. */
  ImageSettings settings() {
    if (imageStoreQuotaGb < 1) {
      throw refused("--image-store-quota-gb " + imageStoreQuotaGb + ": give GiB, 1 or more");
    }
    if (maxCompositions < 1) {
      throw refused("--max-compositions " + maxCompositions + ": give 1 or more");
    }
    if (packageCacheGb < 1) {
      throw refused("--package-cache-gb " + packageCacheGb + ": give GiB, 1 or more");
    }
    if (blobGraceHours < 1) {
      throw refused("--blob-grace-hours " + blobGraceHours + ": give hours, 1 or more");
    }
    ImageSettings settings = ImageSettings.defaults().withStoreQuotaBytes(imageStoreQuotaGb << 30)
        .withBlobGrace(java.time.Duration.ofHours(blobGraceHours))
        .withComposition(java.util.Optional.ofNullable(layerCache)
            .map(dir -> dir.toAbsolutePath().normalize()), maxCompositions, packageCacheGb << 30);
    if (imageImportDir == null) {
      return settings;
    }
    if (!Files.isDirectory(imageImportDir)) {
      throw refused("--image-import-dir " + imageImportDir + " is not a directory");
    }
    try {
      return settings.withImportDirectory(imageImportDir.toRealPath());
    } catch (IOException e) {
      throw refused("--image-import-dir " + imageImportDir + " cannot be read: " + e.getMessage());
    }
  }

  private ParameterException refused(String message) {
    return new ParameterException(controller.commandLine(), message);
  }
}
