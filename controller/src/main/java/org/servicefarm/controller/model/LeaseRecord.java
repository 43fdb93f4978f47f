package org.servicefarm.controller.model;

import java.time.Instant;
import java.util.UUID;

/**
 * One row of {@code leases}: a client's hold on a VM, live until it expires or is released.
 *
 * @param endReason why the farm ended the lease itself (an admin action forced on its VM); null
 *     when it was released by its holder, expired, or is live
 */
public record LeaseRecord(
    UUID id,
    UUID vmId,
    String service,
    int ttlSeconds,
    Instant createdAt,
    Instant renewedAt,
    Instant expiresAt,
    Instant releasedAt,
    String endReason) {}
