package org.servicefarm.controller.web;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import org.servicefarm.controller.auth.Role;
import org.servicefarm.controller.auth.TokenVerifier.Verdict;
import org.servicefarm.http.WebExchange;

/**
 * Decides whether an HTTP caller may use an admin route: a live admin token in {@code
 * Authorization: Bearer …} (curl, scrapers) or in the {@value #COOKIE} cookie (the dashboard in a
 * browser, which cannot set headers on its page loads). Refusals are answered here: 401 without a
 * token or with an unknown or revoked one, 403 for a client token.
 */
public final class WebAccess {
  /** The cookie the dashboard's sign-in sets (HttpOnly, SameSite=Strict). */
  public static final String COOKIE = "servicefarm_token";

  private final Function<String, Verdict> verifier;
  private final boolean open;

  private WebAccess(Function<String, Verdict> verifier, boolean open) {
    this.verifier = verifier;
    this.open = open;
  }

  /** Admin routes need a live admin token, told by {@code verifier} (TokenVerifier::verify). */
  public static WebAccess tokens(Function<String, Verdict> verifier) {
    return new WebAccess(verifier, false);
  }

  /** Everyone is admitted: the controller runs with {@code --auth none}. */
  public static WebAccess open() {
    return new WebAccess(token -> new Verdict.Unknown(), true);
  }

  /** Whether the caller is an admin; if not, the refusal has been sent. */
  boolean admit(WebExchange exchange) throws IOException {
    if (open) {
      return true;
    }
    Optional<String> token = presentedToken(exchange);
    if (token.isEmpty()) {
      refuse(exchange, 401, "an admin token is needed: send 'Authorization: Bearer <token>'"
          + " or sign in to the dashboard\n");
      return false;
    }
    Optional<String> refused = refusal(token.get());
    if (refused.isEmpty()) {
      return true;
    }
    // A client token is known but not enough (403); any other is no credential at all (401).
    boolean known = verifier.apply(token.get()) instanceof Verdict.Live;
    refuse(exchange, known ? 403 : 401, refused.get() + "\n");
    return false;
  }

  /** Whether the caller presents a live admin token (always, when open); answers nothing. */
  public boolean admits(WebExchange exchange) {
    return open || presentedToken(exchange).map(t -> refusal(t).isEmpty()).orElse(false);
  }

  /** Why {@code token} may not use admin routes, or empty when it may (always, when open). */
  public Optional<String> refusal(String token) {
    if (open) {
      return Optional.empty();
    }
    Verdict verdict = verifier.apply(token);
    if (verdict instanceof Verdict.Live live) {
      if (live.role() != Role.ADMIN) {
        return Optional.of("token '" + live.name() + "' has role " + live.role().label()
            + "; this page needs an admin token");
      }
      // The page shows every project's hosts, VMs and events.
      return live.project() == null ? Optional.empty() : Optional.of("token '" + live.name()
          + "' is bound to project '" + live.project() + "'; this page needs a farm-wide admin"
          + " token");
    }
    return Optional.of(verdict instanceof Verdict.Revoked revoked
        ? "token '" + revoked.name() + "' was revoked" : "the token is not known");
  }

  /** The token in the Authorization header, else in the dashboard's cookie. */
  public static Optional<String> presentedToken(WebExchange exchange) {
    String header = exchange.getRequestHeaders().getFirst("Authorization");
    if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return Optional.of(header.substring(7).strip());
    }
    List<String> cookies = exchange.getRequestHeaders().getOrDefault("Cookie", List.of());
    for (String line : cookies) {
      for (String pair : line.split(";")) {
        String p = pair.strip();
        if (p.startsWith(COOKIE + "=")) {
          return Optional.of(p.substring(COOKIE.length() + 1));
        }
      }
    }
    return Optional.empty();
  }

  private static void refuse(WebExchange exchange, int status, String why) throws IOException {
    if (status == 401) {
      exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"servicefarm\"");
    }
    WebServer.sendText(exchange, status, why);
  }
}
