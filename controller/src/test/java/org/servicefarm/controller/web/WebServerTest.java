package org.servicefarm.controller.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.auth.Role;
import org.servicefarm.controller.auth.TokenVerifier.Verdict;

class WebServerTest {
  private static final Map<String, Verdict> TOKENS = Map.of(
      "admin-secret", new Verdict.Live(UUID.randomUUID(), "ops", Role.ADMIN),
      "client-secret", new Verdict.Live(UUID.randomUUID(), "app", Role.CLIENT),
      "old-secret", new Verdict.Revoked("retired"));

  private WebServer web;
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() throws IOException {
    web = WebServer.start(new InetSocketAddress("127.0.0.1", 0),
        WebAccess.tokens(t -> TOKENS.getOrDefault(t, new Verdict.Unknown())));
    web.route("/admin", WebServer.Access.ADMIN, ex -> WebServer.sendText(ex, 200, "secret page"));
    web.route("/public", WebServer.Access.PUBLIC, ex -> WebServer.sendText(ex, 200, "hello"));
    web.route("/broken", WebServer.Access.PUBLIC, ex -> {
      throw new IllegalStateException("the page fell over");
    });
  }

  @AfterEach
  void stop() {
    web.close();
  }

  private HttpResponse<String> get(String path, String... headers) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + web.address().getPort() + path));
    if (headers.length > 0) {
      request.headers(headers);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void adminRouteAdmitsAnAdminTokenFromTheHeaderOrTheCookie() throws Exception {
    assertEquals("secret page", get("/admin", "Authorization", "Bearer admin-secret").body());
    HttpResponse<String> byCookie =
        get("/admin", "Cookie", "theme=dark; " + WebAccess.COOKIE + "=admin-secret");
    assertEquals(200, byCookie.statusCode());
  }

  @Test
  void adminRouteRefusesMissingUnknownRevokedAndClientTokensSayingWhy() throws Exception {
    HttpResponse<String> none = get("/admin");
    assertEquals(401, none.statusCode());
    assertTrue(none.headers().firstValue("WWW-Authenticate").isPresent());
    assertEquals(401, get("/admin", "Authorization", "Bearer made-up").statusCode());
    HttpResponse<String> revoked = get("/admin", "Authorization", "Bearer old-secret");
    assertEquals(401, revoked.statusCode());
    assertTrue(revoked.body().contains("retired"), revoked.body());
    HttpResponse<String> client = get("/admin", "Authorization", "Bearer client-secret");
    assertEquals(403, client.statusCode());
    assertTrue(client.body().contains("role client"), client.body());
  }

  @Test
  void publicRouteNeedsNoTokenAndAFailingHandlerAnswers500WithItsMessage() throws Exception {
    assertEquals("hello", get("/public").body());
    HttpResponse<String> broken = get("/broken");
    assertEquals(500, broken.statusCode());
    assertTrue(broken.body().contains("the page fell over"), broken.body());
  }
}
