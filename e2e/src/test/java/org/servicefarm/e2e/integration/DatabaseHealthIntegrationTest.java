package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.Controller;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.web.WebAccess;
import org.servicefarm.controller.web.WebServer;
import org.servicefarm.e2e.support.FarmLeftovers;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;
import org.servicefarm.e2e.support.StandalonePostgres;

/**
 * A load balancer's view of a controller whose database goes away: grpc.health.v1 and /healthz
 * report NOT_SERVING within seconds of PostgreSQL stopping, and SERVING again once it is back,
 * with nobody restarting the controller.
 */
class DatabaseHealthIntegrationTest {
  private static final Duration NOTICE = Duration.ofSeconds(15);

  @Test
  void healthGoesNotServingWhileTheDatabaseIsDownAndServingWhenItReturns() throws Exception {
    Path dir = Files.createTempDirectory("servicefarm-health");
    // A root test runs PostgreSQL as an unprivileged user, who must enter here.
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    String name = "health-" + UUID.randomUUID();
    try (StandalonePostgres postgres = new StandalonePostgres(dir.resolve("postgres"));
        Database db = new Database(postgres.jdbcUrl(), postgres.user(), "", 4)) {
      Migrations.migrate(db.dataSource());
      Controller controller = new Controller(db, InProcessFarm.fastConfig(), dir.resolve("c"));
      Server server = controller.serve(InProcessServerBuilder.forName(name));
      ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
      WebServer web = WebServer.start(new InetSocketAddress("127.0.0.1", 0), WebAccess.open());
      controller.serveWeb(web);
      try {
        HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel);
        assertEquals(ServingStatus.SERVING, status(health, ""));
        assertEquals(200, healthz(web).statusCode());

        postgres.stop();
        Await.until("health NOT_SERVING with the database down", NOTICE,
            () -> status(health, "") == ServingStatus.NOT_SERVING);
        assertEquals(ServingStatus.NOT_SERVING, status(health, "servicefarm.v1.FarmAdmin"));
        assertEquals(ServingStatus.NOT_SERVING, status(health, "servicefarm.v1.ServiceBroker"));
        HttpResponse<String> down = healthz(web);
        assertEquals(503, down.statusCode());
        assertTrue(down.body().contains("the database cannot be reached"), down.body());

        postgres.start();
        Await.until("health SERVING with the database back", NOTICE,
            () -> status(health, "") == ServingStatus.SERVING);
        assertEquals(ServingStatus.SERVING, status(health, "servicefarm.v1.FarmAdmin"));
        assertEquals(200, healthz(web).statusCode());
      } finally {
        web.close();
        channel.shutdownNow();
        controller.close();
        server.shutdownNow();
      }
    } finally {
      FarmLeftovers.deleteTree(dir);
    }
  }

  private static ServingStatus status(HealthGrpc.HealthBlockingStub health, String service) {
    return health.check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus();
  }

  private static HttpResponse<String> healthz(WebServer web) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
            "http://127.0.0.1:" + web.address().getPort() + "/healthz")).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
