package org.servicefarm.controller.model;

import java.time.Instant;
import java.util.UUID;

/**
 * One row of {@code images}. A registered image has no {@code inputHash} and is READY from the
 * start; a composed one has an {@code inputHash} and, once READY, a kernel, initrd and command
 * line of its own. {@code buildStartedAt} is when its current or last build was claimed.
 * {@code project} is the project a registered image belongs to (null: every project may use it).
 * A composed image's disk is a service layer backed by the base layer {@code baseLayerSha256}
 * (null for a disk that stands alone).
 */
public record ImageRecord(
    UUID id,
    String name,
    String sha256,
    long sizeBytes,
    String format,
    String sourcePath,
    String inputHash,
    String buildState,
    Instant createdAt,
    String kernelSha256,
    String initrdSha256,
    String kernelCmdline,
    String buildError,
    Instant buildStartedAt,
    String project,
    String baseLayerSha256,
    long baseLayerSizeBytes) {

  /** Whether a definition of {@code owner} may use the image: a farm-wide image, or its own. */
  public boolean usableBy(String owner) {
    return project == null || project.equals(owner);
  }

  /** Composed from packages (and so built by the image constructor), rather than registered. */
  public boolean composed() {
    return inputHash != null;
  }

  /** Whether a VM can boot this image now; otherwise a composed image must be built first. */
  public boolean ready() {
    return "READY".equals(buildState);
  }

  /** A composed image that is not READY: someone has to build it before a VM can use it. */
  public boolean needsBuild() {
    return composed() && !ready();
  }
}
