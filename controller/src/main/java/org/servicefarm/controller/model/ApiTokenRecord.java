package org.servicefarm.controller.model;

import java.time.Instant;
import java.util.UUID;

/**
 * A row of {@code api_tokens}: a named token's role and hash; never the token itself.
 *
 * @param project the project the token is bound to; null for a farm-wide admin token (a client
 *     token without one, written before projects existed, is bound to {@code default})
 */
public record ApiTokenRecord(UUID id, String name, String role, String tokenHash,
    Instant createdAt, Instant revokedAt, String project) {

  public ApiTokenRecord(
      UUID id, String name, String role, String tokenHash, Instant createdAt, Instant revokedAt) {
    this(id, name, role, tokenHash, createdAt, revokedAt, null);
  }

  /** The project the token acts in; null: the whole farm. */
  public String boundProject() {
    return project == null && "client".equals(role) ? ProjectScope.DEFAULT : project;
  }

  public boolean revoked() {
    return revokedAt != null;
  }
}
