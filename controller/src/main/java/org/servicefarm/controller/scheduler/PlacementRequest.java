package org.servicefarm.controller.scheduler;

/** The resources one VM needs, and the image it boots from (hosts caching it are preferred). */
public record PlacementRequest(int vcpus, long memoryMb, String imageId) {}
