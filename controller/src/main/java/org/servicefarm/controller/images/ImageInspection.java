package org.servicefarm.controller.images;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.diskimage.DiskImageHeader;

/**
 * The check every image from outside passes before it enters the store: its header may name no
 * other file (a backing file or an external data file, which every agent's QEMU would open on its
 * host), may not be encrypted, and the file may hold no more than its declared virtual size needs.
 */
final class ImageInspection {
  private ImageInspection() {}

  /**
   * Refuses the file as image {@code name} declared as {@code format}, naming what was found.
   *
   * @throws FarmException.InvalidInput with every problem found
   */
  static void requireSafeBase(String name, String format, Path file) {
    DiskImageHeader header;
    try {
      header = DiskImageHeader.read(file);
    } catch (IOException e) {
      throw BlobStore.ioFailure("cannot read the header of image " + name, e);
    }
    List<String> problems = header.problemsAsBase(format);
    if (!problems.isEmpty()) {
      throw new FarmException.InvalidInput("image '" + name + "' is refused: "
          + String.join("; ", problems));
    }
  }
}
