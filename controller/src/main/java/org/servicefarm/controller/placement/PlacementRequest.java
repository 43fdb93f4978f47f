package org.servicefarm.controller.placement;

/**
 * The resources one VM needs, and the digest of the disk image it boots from: hosts whose cache
 * holds it are preferred. Null when the image is not built yet.
 */
public record PlacementRequest(int vcpus, long memoryMb, String imageDigest, long diskMb) {

  /** A request that asks for no disk room (before the image's size is known). */
  public PlacementRequest(int vcpus, long memoryMb, String imageDigest) {
    this(vcpus, memoryMb, imageDigest, 0);
  }

  /**
   * Disk a VM of {@code imageBytes} needs on its host: room for the image (a first install
   * fetches it) and for its memory when it sleeps (a managed save writes up to all of it). The
   * overlay grows with what the guest writes, which nobody knows ahead.
   */
  public static long diskMbFor(long imageBytes, long memoryMb) {
    return (Math.max(0, imageBytes) + (1 << 20) - 1) / (1 << 20) + memoryMb;
  }
}
