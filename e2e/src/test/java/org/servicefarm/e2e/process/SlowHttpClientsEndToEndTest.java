package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.servicefarm.e2e.support.ProcessFarm;

/**
 * A thousand clients that each open a connection to the HTTP port, send one byte and stop: the
 * controller's /healthz (what a load balancer asks) and the agent's still answer. The JDK server
 * the ports ran on before read each request inside one of its four (two) threads with no
 * deadline, so four such clients took the port down. Prints how long each health check took.
 */
class SlowHttpClientsEndToEndTest {
  private static final int SLOW_CLIENTS = 1000;

  @Test
  void healthChecksAreAnsweredWhileAThousandSlowClientsHoldConnections() throws Exception {
    try (ProcessFarm farm = new ProcessFarm("test:///default")) {
      farm.startController();
      farm.startAgent("h1");
      farm.awaitConnected(List.of("h1"));
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
      // Warm: the client's first request in a JVM pays for its own start.
      assertEquals(200, health(http, farm.httpBase()).statusCode());
      assertEquals(200, health(http, farm.agentHttpBase("h1")).statusCode());

      List<Socket> slow = new ArrayList<>();
      try {
        for (String base : List.of(farm.httpBase(), farm.agentHttpBase("h1"))) {
          URI uri = URI.create(base);
          for (int i = 0; i < SLOW_CLIENTS / 2; i++) {
            Socket s = new Socket(uri.getHost(), uri.getPort());
            s.getOutputStream().write('G');
            slow.add(s);
          }
        }
        for (String base : List.of(farm.httpBase(), farm.agentHttpBase("h1"))) {
          long started = System.nanoTime();
          HttpResponse<String> answer = health(http, base);
          long millis = (System.nanoTime() - started) / 1_000_000;
          System.out.println("slow clients: " + base + "/healthz answered " + answer.statusCode()
              + " in " + millis + " ms beside " + slow.size() + " slow connections");
          assertEquals(200, answer.statusCode(), answer.body());
        }
        // The dashboard's data still comes, with the admin token, beside them.
        assertEquals(200, http.send(HttpRequest.newBuilder(URI.create(farm.httpBase()
            + "/api/summary")).header("Authorization", "Bearer " + java.nio.file.Files.readString(farm.adminTokenFile()).strip())
            .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString())
            .statusCode());
      } finally {
        for (Socket s : slow) {
          s.close();
        }
      }
    }
  }

  private static HttpResponse<String> health(HttpClient http, String base) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(base + "/healthz"))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }
}
