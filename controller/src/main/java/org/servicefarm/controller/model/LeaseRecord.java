package org.servicefarm.controller.model;

import java.time.Instant;
import java.util.UUID;

/** One row of {@code leases}: a client's hold on a VM, live until it expires or is released. */
public record LeaseRecord(
    UUID id,
    UUID vmId,
    String service,
    int ttlSeconds,
    Instant createdAt,
    Instant renewedAt,
    Instant expiresAt,
    Instant releasedAt) {}
