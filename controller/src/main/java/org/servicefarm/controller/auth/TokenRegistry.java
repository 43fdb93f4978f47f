package org.servicefarm.controller.auth;

import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.TokenRepository;
import org.servicefarm.controller.model.ApiTokenRecord;

/** Issues, lists and revokes tokens. The secret of a new token leaves only in {@link Issued}. */
public final class TokenRegistry {

  /** A token just made: its row and the secret, which is shown once and never stored. */
  public record Issued(ApiTokenRecord record, String secret) {
    @Override
    public String toString() {
      return "Issued{" + record.name() + ", " + record.role() + "}";
    }
  }

  private final Database db;
  private final TokenRepository tokens;
  private final TokenVerifier verifier;

  public TokenRegistry(Database db, TokenRepository tokens, TokenVerifier verifier) {
    this.db = db;
    this.tokens = tokens;
    this.verifier = verifier;
  }

  public TokenVerifier verifier() {
    return verifier;
  }

  /**
   * A new token of the role under the name.
   *
   * @throws FarmException.InvalidInput for a bad name or role
   * @throws FarmException.Conflict when a live token has the name
   */
  public Issued create(String name, Role role) {
    ApiTokens.validName(name);
    if (role == Role.AGENT) {
      throw new FarmException.InvalidInput(
          "role 'agent' has no tokens; agents are known by their certificates");
    }
    String secret = ApiTokens.generate();
    ApiTokenRecord record = db.inTransaction(tx -> {
      if (tokens.liveByName(tx, name).isPresent()) {
        throw new FarmException.Conflict("a live token named '" + name + "' exists; revoke it"
            + " first or choose another name");
      }
      return tokens.insert(tx, name, role.label(), ApiTokens.hash(secret));
    });
    verifier.forget();
    return new Issued(record, secret);
  }

  /** A new admin token named {@code name} when no admin token is live; empty otherwise. */
  public Optional<Issued> createAdminIfNone(String name) {
    String secret = ApiTokens.generate();
    Optional<ApiTokenRecord> record = db.inTransaction(tx -> {
      // Two controllers starting together on one database must not both bootstrap.
      tx.advisoryLock("api_tokens:bootstrap");
      if (tokens.anyLiveAdmin(tx)) {
        return Optional.empty();
      }
      if (tokens.liveByName(tx, name).isPresent()) {
        throw new FarmException.Conflict("no admin token is live, but a client token is named '"
            + name + "'; revoke it so the controller can create the bootstrap admin token");
      }
      return Optional.of(tokens.insert(tx, name, Role.ADMIN.label(), ApiTokens.hash(secret)));
    });
    verifier.forget();
    return record.map(r -> new Issued(r, secret));
  }

  public List<ApiTokenRecord> list() {
    return db.inTransaction(tokens::all);
  }

  /**
   * Revokes the token with that id, or the live token with that name.
   *
   * @throws FarmException.InvalidInput when the value is neither an id nor a token name
   * @throws FarmException.NotFound naming the value when no token matches
   * @throws FarmException.Conflict when the token was revoked already
   */
  public ApiTokenRecord revoke(String idOrName) {
    if (asUuid(idOrName).isEmpty()) {
      // Checked before the query: a made-up value (10 KB, a NUL) must not reach the database.
      ApiTokens.validName(idOrName);
    }
    ApiTokenRecord revoked = db.inTransaction(tx -> {
      Optional<ApiTokenRecord> found = asUuid(idOrName).isPresent()
          ? tokens.byId(tx, asUuid(idOrName).get())
          : tokens.liveByName(tx, idOrName);
      ApiTokenRecord token = found.orElseThrow(() -> new FarmException.NotFound(
          "no token has id or live name '" + idOrName + "'"));
      if (!tokens.revoke(tx, token.id())) {
        throw new FarmException.Conflict("token '" + token.name() + "' (" + token.id()
            + ") was revoked already at " + token.revokedAt());
      }
      return tokens.byId(tx, token.id()).orElseThrow();
    });
    verifier.forget();
    return revoked;
  }

  private static Optional<UUID> asUuid(String text) {
    // UUID.fromString also takes short forms such as "1-2-3-4-5", which are valid names.
    if (text.length() != 36) {
      return Optional.empty();
    }
    try {
      return Optional.of(UUID.fromString(text));
    } catch (IllegalArgumentException notAnId) {
      // Not an id, so it is a name; the caller looks it up as one.
      return Optional.empty();
    }
  }
}
