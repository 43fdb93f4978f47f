package org.servicefarm.controller.dashboard;

import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.servicefarm.controller.auth.ApiTokens;
import org.servicefarm.controller.web.WebAccess;
import org.servicefarm.controller.web.WebServer;
import org.servicefarm.http.WebExchange;

/**
 * Signing in to the dashboard: a browser cannot send a bearer header on page loads, so the admin
 * pastes the token into {@code /login} once and it travels in the {@link WebAccess#COOKIE} cookie
 * (HttpOnly: page scripts never see it; SameSite=Strict: other sites' pages never send it; Secure
 * over HTTPS). {@code /logout} clears it.
 *
 * <p>CSRF: the cookie's SameSite=Strict already keeps it off requests that other sites start, and
 * both POSTs refuse an {@code Origin} (or, without one, a {@code Referer}) that is not this
 * server's own, so another site cannot sign a browser in with the attacker's token either. A
 * request with neither header (curl, scripts) carries no browser's ambient cookie to abuse.
 */
final class SignIn {
  static final String LOGIN = "/login";
  static final String LOGOUT = "/logout";
  private static final int MAX_FORM_BYTES = 8192;

  private final WebAccess access;
  private final String loginPage;

  SignIn(WebAccess access) {
    this.access = access;
    this.loginPage = Dashboard.resource("login.html");
  }

  void login(WebExchange exchange) throws IOException {
    switch (exchange.getRequestMethod()) {
      case "GET" -> showForm(exchange, 200, "");
      case "POST" -> checkToken(exchange);
      default -> Dashboard.methodNotAllowed(exchange, "GET, POST");
    }
  }

  void logout(WebExchange exchange) throws IOException {
    if (!"POST".equals(exchange.getRequestMethod())) {
      Dashboard.methodNotAllowed(exchange, "POST");
      return;
    }
    if (refusedAsCrossSite(exchange)) {
      return;
    }
    exchange.getResponseHeaders().add("Set-Cookie", cookie(exchange, "", "; Max-Age=0"));
    redirect(exchange, LOGIN);
  }

  private void checkToken(WebExchange exchange) throws IOException {
    if (refusedAsCrossSite(exchange)) {
      return;
    }
    String token;
    try {
      token = formField(exchange, "token").strip();
    } catch (IllegalArgumentException e) {
      showForm(exchange, 400, "The form could not be read: " + e.getMessage() + ".");
      return;
    }
    if (token.isEmpty()) {
      showForm(exchange, 400, "Paste the admin token (the file admin.token in the controller's"
          + " data directory).");
      return;
    }
    if (!ApiTokens.wellFormed(token)) {
      showForm(exchange, 400, "That is not a token: a token is 'sf_' followed by 43 letters,"
          + " digits, '-' or '_'.");
      return;
    }
    Optional<String> refusal = access.refusal(token);
    if (refusal.isPresent()) {
      showForm(exchange, 401, "Not signed in: " + refusal.get() + ".");
      return;
    }
    exchange.getResponseHeaders().add("Set-Cookie", cookie(exchange, token, ""));
    redirect(exchange, "/");
  }

  /** A session cookie (gone when the browser closes) only this server's pages send back. */
  private static String cookie(WebExchange exchange, String value, String extra) {
    return WebAccess.COOKIE + "=" + value + "; Path=/; HttpOnly; SameSite=Strict"
        + (exchange.isSecure() ? "; Secure" : "") + extra;
  }

  /** Answers 403 and says so when the request came from another site's page. */
  static boolean refusedAsCrossSite(WebExchange exchange) throws IOException {
    String host = exchange.getRequestHeaders().getFirst("Host");
    String own = (exchange.isSecure() ? "https://" : "http://") + host;
    String origin = exchange.getRequestHeaders().getFirst("Origin");
    String referer = exchange.getRequestHeaders().getFirst("Referer");
    String refusal = null;
    if (host == null) {
      refusal = "the request names no Host";
    } else if (origin != null && !origin.equals(own)) {
      refusal = "Origin '" + origin + "' is not this server (" + own + ")";
    } else if (origin == null && referer != null && !referer.startsWith(own + "/")) {
      refusal = "Referer '" + referer + "' is not a page of this server (" + own + ")";
    }
    if (refusal == null) {
      return false;
    }
    Dashboard.secureHeaders(exchange, false);
    WebServer.sendText(exchange, 403, "refused: " + refusal + "\n");
    return true;
  }

  /** One field of a URL-encoded form body; empty when absent. */
  private static String formField(WebExchange exchange, String name) throws IOException {
    byte[] body;
    try (InputStream in = exchange.getRequestBody()) {
      body = in.readNBytes(MAX_FORM_BYTES + 1);
    }
    if (body.length > MAX_FORM_BYTES) {
      throw new IllegalArgumentException("the form is longer than " + MAX_FORM_BYTES + " bytes");
    }
    for (String pair : new String(body, StandardCharsets.UTF_8).split("&")) {
      int eq = pair.indexOf('=');
      if (eq > 0 && URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8).equals(name)) {
        return URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      }
    }
    return "";
  }

  private void showForm(WebExchange exchange, int status, String message) throws IOException {
    String shown = message.isEmpty() ? ""
        : "<p class=\"error\" role=\"alert\">" + Dashboard.escapeHtml(message) + "</p>";
    Dashboard.secureHeaders(exchange, false);
    WebServer.send(exchange, status, "text/html; charset=utf-8",
        loginPage.replace("<!--message-->", shown));
  }

  private static void redirect(WebExchange exchange, String location) throws IOException {
    Dashboard.secureHeaders(exchange, false);
    exchange.getResponseHeaders().set("Location", location);
    WebServer.sendText(exchange, 303, "see " + location + "\n");
  }
}
