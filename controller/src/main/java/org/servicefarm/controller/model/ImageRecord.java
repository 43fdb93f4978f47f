package org.servicefarm.controller.model;

import java.time.Instant;
import java.util.UUID;

/** One row of {@code images}. */
public record ImageRecord(
    UUID id,
    String name,
    String sha256,
    long sizeBytes,
    String format,
    String sourcePath,
    String inputHash,
    String buildState,
    Instant createdAt) {}
