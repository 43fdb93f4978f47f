package org.servicefarm.controller.auth;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.TokenRepository;
import org.servicefarm.controller.model.ApiTokenRecord;

/**
 * Tells what a presented token is: unknown, revoked, or live with a role. Every token row (there
 * are few) is held in memory and read again at most every {@link #REFRESH} when a call needs it,
 * so the warm path does not query the database, and a flood of made-up tokens cannot either.
 *
 * <p>A revocation therefore takes effect on other controllers within {@code REFRESH} (5 s); this
 * controller forgets its copy at once when a token is created or revoked through it.
 */
public final class TokenVerifier {
  public static final Duration REFRESH = Duration.ofSeconds(5);

  /** What a token turned out to be. */
  public sealed interface Verdict {
    /** @param project the project the token acts in; null for a farm-wide admin token */
    record Live(UUID id, String name, Role role, String project) implements Verdict {
      public Live(UUID id, String name, Role role) {
        this(id, name, role, null);
      }
    }

    record Revoked(String name) implements Verdict {}

    record Unknown() implements Verdict {}
  }

  private record Snapshot(List<ApiTokenRecord> tokens, Instant readAt) {}

  private final Database db;
  private final TokenRepository tokens;
  private final Clock clock;
  private volatile Snapshot snapshot;

  public TokenVerifier(Database db, TokenRepository tokens, Clock clock) {
    this.db = db;
    this.tokens = tokens;
    this.clock = clock;
  }

  /** Looks the token up by its hash, comparing every stored hash in constant time. */
  public Verdict verify(String token) {
    if (!ApiTokens.wellFormed(token)) {
      return new Verdict.Unknown();
    }
    String hash = ApiTokens.hash(token);
    Verdict verdict = new Verdict.Unknown();
    // No early exit: the comparison count does not depend on where (or whether) the token is.
    for (ApiTokenRecord t : current().tokens()) {
      if (ApiTokens.sameHash(hash, t.tokenHash())) {
        verdict = t.revoked()
            ? new Verdict.Revoked(t.name())
            : new Verdict.Live(t.id(), t.name(), Role.ofToken(t.role()), t.boundProject());
      }
    }
    return verdict;
  }

  /** Whether the token of this id is live (known and not revoked), as of the held copy. */
  public boolean isLive(UUID id) {
    for (ApiTokenRecord t : current().tokens()) {
      if (t.id().equals(id)) {
        return !t.revoked();
      }
    }
    return false;
  }

  /** Drops the in-memory copy, so the next call reads the table (after a create or revoke). */
  public void forget() {
    snapshot = null;
  }

  private Snapshot current() {
    Snapshot s = snapshot;
    Instant now = clock.instant();
    if (s == null || !now.isBefore(s.readAt().plus(REFRESH))) {
      // Concurrent callers may both read; the table is small and either copy is fresh.
      s = new Snapshot(db.inTransaction(tokens::all), now);
      snapshot = s;
    }
    return s;
  }
}
