package org.servicefarm.controller.model;

import java.time.Instant;
import java.util.UUID;

/**
 * One row of the audit trail: who called what, from where, on what, and how it ended.
 *
 * @param tokenId set when the caller presented a token the farm knows (live or revoked)
 * @param caller the token's name, an agent's host id, or a description of an anonymous caller
 * @param callCount more than 1 in a summary of refused calls; {@code at} is then the window's start
 */
public record AuditRecord(long id, Instant at, String callerKind, UUID tokenId, String caller,
    String peer, String method, String target, String outcome, String detail, int callCount) {

  /** A record not yet stored (no id; the database stamps {@code at} unless given). */
  public static AuditRecord unsaved(Instant at, String callerKind, UUID tokenId, String caller,
      String peer, String method, String target, String outcome, String detail, int callCount) {
    return new AuditRecord(0, at, callerKind, tokenId, caller, peer, method, target, outcome,
        detail, callCount);
  }
}
