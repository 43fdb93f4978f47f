package org.servicefarm.controller.scheduler;

/**
 * The resources one VM needs, and the digest of the disk image it boots from: hosts whose cache
 * holds it are preferred. Null when the image is not built yet.
 */
public record PlacementRequest(int vcpus, long memoryMb, String imageDigest) {}
