package org.servicefarm.controller.dashboard;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.servicefarm.controller.events.EventFeed;
import org.servicefarm.controller.web.WebAccess;
import org.servicefarm.controller.web.WebServer;
import org.servicefarm.http.WebExchange;

/**
 * The operator's dashboard in a browser: one page ({@code /}) with its style sheet and script,
 * the JSON it reads ({@code /api/summary}), the farm's events as they happen ({@code
 * /api/events}, Server-Sent Events), and signing in and out ({@link SignIn}).
 *
 * <p>Every route that shows or changes the farm is {@link WebServer.Access#ADMIN}; the page
 * itself sends a browser that is not signed in to {@code /login} instead of answering a bare 401.
 * Only the sign-in, sign-out and the style sheet (which the sign-in page uses, and which holds
 * nothing of the farm) are public. Every answer forbids framing and loading anything from
 * elsewhere, and no script is inline: the farm may have no internet, and what users named
 * (services, commands, events' causes) must never run as code.
 */
public final class Dashboard {
  /** Everything from this server only; no inline script or style, no framing, no plugins. */
  static final String CONTENT_SECURITY_POLICY = "default-src 'self'; object-src 'none';"
      + " base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

  private final FarmSummary summary;
  private final EventStream events;
  private final String page = resource("index.html");
  private final String script = resource("dashboard.js");
  private final String style = resource("dashboard.css");

  public Dashboard(FarmSummary summary, EventFeed feed) {
    this.summary = summary;
    this.events = new EventStream(feed);
  }

  /** Mounts the dashboard's routes on {@code web}. */
  public void mount(WebServer web) {
    WebAccess access = web.access();
    SignIn signIn = new SignIn(access);
    // "/" also receives every path no other route claims: those are 404, not the page.
    web.route("/", WebServer.Access.PUBLIC, exchange -> {
      if (!exchange.getRequestURI().getPath().equals("/")) {
        secureHeaders(exchange, false);
        WebServer.sendText(exchange, 404, "no page at " + exchange.getRequestURI().getPath() + "\n");
      } else if (!access.admits(exchange)) {
        secureHeaders(exchange, false);
        exchange.getResponseHeaders().set("Location", SignIn.LOGIN);
        WebServer.sendText(exchange, 303, "sign in at " + SignIn.LOGIN + "\n");
      } else {
        get(exchange, "text/html; charset=utf-8", page);
      }
    });
    web.route(SignIn.LOGIN, WebServer.Access.PUBLIC, signIn::login);
    web.route(SignIn.LOGOUT, WebServer.Access.PUBLIC, signIn::logout);
    web.route("/dashboard.css", WebServer.Access.PUBLIC,
        exchange -> get(exchange, "text/css; charset=utf-8", style));
    web.route("/dashboard.js", WebServer.Access.ADMIN,
        exchange -> get(exchange, "text/javascript; charset=utf-8", script));
    web.route("/api/summary", WebServer.Access.ADMIN,
        exchange -> get(exchange, "application/json; charset=utf-8", summary.json()));
    web.route("/api/events", WebServer.Access.ADMIN, exchange -> {
      if (!"GET".equals(exchange.getRequestMethod())) {
        methodNotAllowed(exchange, "GET");
        return;
      }
      events.serve(exchange);
    });
  }

  private static void get(WebExchange exchange, String contentType, String body)
      throws IOException {
    if (!"GET".equals(exchange.getRequestMethod())) {
      methodNotAllowed(exchange, "GET");
      return;
    }
    secureHeaders(exchange, false);
    WebServer.send(exchange, 200, contentType, body);
  }

  static void methodNotAllowed(WebExchange exchange, String allowed) throws IOException {
    secureHeaders(exchange, false);
    exchange.getResponseHeaders().set("Allow", allowed);
    WebServer.sendText(exchange, 405, exchange.getRequestMethod() + " is not allowed here; use "
        + allowed + "\n");
  }

  /**
   * The headers every dashboard answer carries. Nothing is cached: every answer but the style
   * sheet is only for a signed-in admin, and a stale page would show a farm that is gone.
   *
   * @param stream whether the answer is an event stream (proxies must not buffer it)
   */
  static void secureHeaders(WebExchange exchange, boolean stream) {
    var h = exchange.getResponseHeaders();
    h.set("Content-Security-Policy", CONTENT_SECURITY_POLICY);
    h.set("X-Frame-Options", "DENY");
    h.set("X-Content-Type-Options", "nosniff");
    h.set("Referrer-Policy", "same-origin");
    h.set("Cache-Control", "no-store");
    if (stream) {
      h.set("X-Accel-Buffering", "no");
    }
  }

  /** A text file of this package's resources, read once at start. */
  static String resource(String name) {
    try (InputStream in = Dashboard.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("the dashboard's " + name + " is missing from the jar");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the dashboard's " + name, e);
    }
  }

  /** Text made safe to place between HTML tags or in a quoted attribute. */
  static String escapeHtml(String text) {
    StringBuilder out = new StringBuilder(text.length());
    for (char c : text.toCharArray()) {
      switch (c) {
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '&' -> out.append("&amp;");
        case '"' -> out.append("&quot;");
        case '\'' -> out.append("&#39;");
        default -> out.append(c);
      }
    }
    return out.toString();
  }
}
