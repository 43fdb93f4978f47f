package org.servicefarm.agent.hypervisor.storage;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.servicefarm.agent.images.ImageCache;

/**
 * A VM's disk ready for its domain, and the files the domain boots from. Holds the cached blobs
 * it depends on until closed, which the caller does once the domain recording them is defined.
 *
 * @param kernel the image's own kernel, for images that boot one (composed images)
 * @param blobs digests of the cached blobs the domain depends on, for its metadata
 */
public record PreparedDisk(Path disk, Optional<Path> kernel, Optional<Path> initrd,
    List<String> blobs, List<ImageCache.Lease> leases) implements AutoCloseable {

  public PreparedDisk {
    blobs = List.copyOf(blobs);
    leases = List.copyOf(leases);
  }

  /** A disk that depends on no cached blob. */
  public static PreparedDisk standalone(Path disk) {
    return new PreparedDisk(disk, Optional.empty(), Optional.empty(), List.of(), List.of());
  }

  @Override
  public void close() {
    leases.forEach(ImageCache.Lease::close);
  }
}
