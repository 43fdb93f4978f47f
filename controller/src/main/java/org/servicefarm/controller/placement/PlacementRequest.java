package org.servicefarm.controller.placement;

/**
 * The resources one VM needs, the digest of the disk image it boots from (hosts whose cache
 * holds it are preferred; null when the image is not built yet), and the placement rules of its
 * definition.
 */
public record PlacementRequest(int vcpus, long memoryMb, String imageDigest, long diskMb,
    PlacementRules rules) {

  /** A request without placement rules. */
  public PlacementRequest(int vcpus, long memoryMb, String imageDigest, long diskMb) {
    this(vcpus, memoryMb, imageDigest, diskMb, PlacementRules.NONE);
  }

  /** A request that asks for no disk room (before the image's size is known). */
  public PlacementRequest(int vcpus, long memoryMb, String imageDigest) {
    this(vcpus, memoryMb, imageDigest, 0);
  }

  /** The same request under these rules. */
  public PlacementRequest withRules(PlacementRules rules) {
    return new PlacementRequest(vcpus, memoryMb, imageDigest, diskMb, rules);
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
