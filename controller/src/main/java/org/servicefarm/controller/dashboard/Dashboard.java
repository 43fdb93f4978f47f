package org.servicefarm.controller.dashboard;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.servicefarm.controller.events.EventFeed;
import org.servicefarm.controller.web.WebAccess;
import org.servicefarm.controller.web.WebServer;
import org.servicefarm.http.WebExchange;

/**
 * The operator's dashboard in a browser: the farm's page ({@code /}), a VM's ({@code /vm/ID})
 * and a host's ({@code /host/ID}) with their style sheet and scripts, the JSON they read ({@code
 * /api/summary}, {@code /api/history} for the plots, {@code /api/vm/ID} and {@code /api/vm/ID/console}, {@code /api/host/ID}),
 * the actions they take ({@link DashboardActions}), the farm's events as they happen ({@code
 * /api/events}, Server-Sent Events), and signing in and out ({@link SignIn}). The plots are drawn
 * by uPlot (MIT), vendored under {@code vendor/}: small, no dependencies, served from the jar.
 *
 * <p>Every route that shows or changes the farm is {@link WebServer.Access#ADMIN}; the pages
 * send a browser that is not signed in to {@code /login} instead of answering a bare 401.
 * Only the sign-in, sign-out, the style sheets and the icon (which hold nothing of the farm)
 * are public. Every answer forbids framing and loading anything from
 * elsewhere, and no script is inline: the farm may have no internet, and what users named
 * (services, commands, events' causes) must never run as code.
 */
public final class Dashboard {
  /** Everything from this server only; no inline script or style, no framing, no plugins. */
  static final String CONTENT_SECURITY_POLICY = "default-src 'self'; object-src 'none';"
      + " base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

  private final FarmSummary summary;
  private final EventStream events;
  private final FarmDetails details;
  private final FarmHistory history;
  private final DashboardActions actions;
  private final String page = resource("index.html");
  private final String vmPage = resource("vm.html");
  private final String hostPage = resource("host.html");
  private final String style = resource("dashboard.css");
  private final String icon = resource("favicon.svg");
  private final String plotStyle = resource("vendor/uPlot.min.css");
  /** Scripts by path; each page loads common.js, then its own. */
  private final Map<String, String> scripts = Map.of(
      "/dashboard.js", resource("dashboard.js"),
      "/common.js", resource("common.js"),
      "/plots.js", resource("plots.js"),
      "/vm.js", resource("vm.js"),
      "/host.js", resource("host.js"),
      "/vendor/uPlot.iife.min.js", resource("vendor/uPlot.iife.min.js"));

  public Dashboard(FarmSummary summary, EventFeed feed, FarmCalls calls, FarmDetails details,
      FarmHistory history) {
    this.summary = summary;
    this.events = new EventStream(feed);
    this.details = details;
    this.history = history;
    this.actions = new DashboardActions(calls);
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
      } else {
        page(exchange, access, page);
      }
    });
    web.route("/vm/", WebServer.Access.PUBLIC, exchange -> page(exchange, access, vmPage));
    web.route("/host/", WebServer.Access.PUBLIC, exchange -> page(exchange, access, hostPage));
    web.route(SignIn.LOGIN, WebServer.Access.PUBLIC, signIn::login);
    web.route(SignIn.LOGOUT, WebServer.Access.PUBLIC, signIn::logout);
    web.route("/dashboard.css", WebServer.Access.PUBLIC,
        exchange -> get(exchange, "text/css; charset=utf-8", style));
    // Browsers ask for an icon on every page; without one each load logs a 404.
    for (String path : List.of("/favicon.svg", "/favicon.ico")) {
      web.route(path, WebServer.Access.PUBLIC,
          exchange -> get(exchange, "image/svg+xml; charset=utf-8", icon));
    }
    web.route("/vendor/uPlot.min.css", WebServer.Access.PUBLIC,
        exchange -> get(exchange, "text/css; charset=utf-8", plotStyle));
    scripts.forEach((path, script) -> web.route(path, WebServer.Access.ADMIN,
        exchange -> get(exchange, "text/javascript; charset=utf-8", script)));
    web.route("/api/summary", WebServer.Access.ADMIN,
        exchange -> get(exchange, "application/json; charset=utf-8", summary.json()));
    web.route("/api/history", WebServer.Access.ADMIN,
        exchange -> get(exchange, "application/json; charset=utf-8", history.json()));
    web.route("/api/vm/", WebServer.Access.ADMIN, exchange -> {
      String id = exchange.getRequestURI().getPath().substring("/api/vm/".length());
      boolean console = id.endsWith("/console");
      id = console ? id.substring(0, id.length() - "/console".length()) : id;
      UUID vmId;
      try {
        vmId = UUID.fromString(id);
      } catch (IllegalArgumentException e) {
        json(exchange, 400, DashboardActions.error("INVALID_ARGUMENT",
            "'" + id + "' is not a VM id (a UUID)"));
        return;
      }
      found(exchange, console ? details.console(vmId) : details.vm(vmId), "no VM " + id);
    });
    web.route("/api/host/", WebServer.Access.ADMIN, exchange -> {
      String id = exchange.getRequestURI().getPath().substring("/api/host/".length());
      found(exchange, details.host(id), "no host " + id);
    });
    web.route(DashboardActions.PREFIX, WebServer.Access.ADMIN, actions::handle);
    web.route("/api/events", WebServer.Access.ADMIN, exchange -> {
      if (!"GET".equals(exchange.getRequestMethod())) {
        methodNotAllowed(exchange, "GET");
        return;
      }
      events.serve(exchange);
    });
  }

  /** A page for a signed-in admin; anyone else is sent to sign in. */
  private static void page(WebExchange exchange, WebAccess access, String html)
      throws IOException {
    if (!access.admits(exchange)) {
      secureHeaders(exchange, false);
      exchange.getResponseHeaders().set("Location", SignIn.LOGIN);
      WebServer.sendText(exchange, 303, "sign in at " + SignIn.LOGIN + "\n");
    } else {
      get(exchange, "text/html; charset=utf-8", html);
    }
  }

  private static void found(WebExchange exchange, Optional<String> json, String missing)
      throws IOException {
    if (!"GET".equals(exchange.getRequestMethod())) {
      methodNotAllowed(exchange, "GET");
    } else if (json.isPresent()) {
      json(exchange, 200, json.get());
    } else {
      json(exchange, 404, DashboardActions.error("NOT_FOUND", missing));
    }
  }

  private static void json(WebExchange exchange, int status, String body) throws IOException {
    secureHeaders(exchange, false);
    WebServer.send(exchange, status, "application/json; charset=utf-8", body);
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
