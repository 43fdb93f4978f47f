package org.servicefarm.controller.model;

import java.time.Instant;
import java.util.UUID;

/** A row of {@code api_tokens}: a named token's role and hash; never the token itself. */
public record ApiTokenRecord(
    UUID id, String name, String role, String tokenHash, Instant createdAt, Instant revokedAt) {

  public boolean revoked() {
    return revokedAt != null;
  }
}
