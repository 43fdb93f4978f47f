package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.agent.link.ControllerChannels;
import org.servicefarm.api.v1.AgentControlGrpc;
import org.servicefarm.api.v1.AgentMessage;
import org.servicefarm.api.v1.ControllerMessage;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.HostCapacity;
import org.servicefarm.api.v1.Register;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;
import org.servicefarm.client.pki.CertificateIssuer;
import org.servicefarm.client.pki.PkiDirectory;
import org.servicefarm.controller.Controller;
import org.servicefarm.controller.ServerTls;
import org.servicefarm.controller.auth.AuthSettings;
import org.servicefarm.controller.auth.Role;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgres;
import org.servicefarm.controller.web.WebAccess;
import org.servicefarm.controller.web.WebServer;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * A controller serving TLS on a loopback port with agents' client certificates verified against
 * the farm CA, as {@code farmctl pki} sets it up: agents may register only the host their
 * certificate names, as token authentication recognizes them; SDK calls carry an admin token.
 */
class TransportSecurityIntegrationTest {
  private static Path dir;
  private static PkiDirectory pki;
  private static EmbeddedPostgres postgres;
  private static Database db;
  private static Controller controller;
  private static Server server;
  private static String target;
  private static String adminToken;

  @BeforeAll
  static void startTlsController() throws Exception {
    dir = Files.createTempDirectory("servicefarm-tls");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    pki = new PkiDirectory(dir.resolve("pki"));
    CertificateIssuer.Issued ca = CertificateIssuer.newCa("test CA");
    pki.write(PkiDirectory.CA, ca, List.of());
    pki.write("controller", CertificateIssuer.newServer(ca, "controller",
        List.of("127.0.0.1", "localhost")), List.of(ca.certificate()));
    pki.write("agent-host-a", CertificateIssuer.newAgent(ca, "host-a"), List.of(ca.certificate()));
    pki.write("client-ops", CertificateIssuer.newClient(ca, "ops"), List.of(ca.certificate()));
    pki.write("gateway-gw1", CertificateIssuer.newGateway(ca, "gw1"), List.of(ca.certificate()));

    postgres = EmbeddedPostgres.start(dir.resolve("pgdata"), 0);
    db = new Database(postgres.jdbcUrl(), postgres.user(), "", 8);
    Migrations.migrate(db.dataSource());
    controller = new Controller(db, InProcessFarm.fastConfig(), dir.resolve("controller"));
    ServerTls tls = new ServerTls(pki.certificate("controller"), pki.key("controller"),
        Optional.of(pki.certificate(PkiDirectory.CA)));
    server = controller.serve(
        tls.applyTo(NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))),
        tls.agentIdentity(), AuthSettings.tokens(true));
    adminToken = controller.tokens().create("tls-test-admin", Role.ADMIN).secret();
    target = "127.0.0.1:" + server.getPort();
  }

  @AfterAll
  static void stop() throws Exception {
    if (controller != null) {
      controller.close();
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (db != null) {
      db.close();
    }
    if (postgres != null) {
      postgres.close();
    }
  }

  private static FarmClient sdkClient() {
    return FarmClient.connect(FarmClientOptions.builder().target(target)
        .trustCertificate(pki.certificate(PkiDirectory.CA)).bearerToken(adminToken)
        .callDeadline(Duration.ofSeconds(20)).build());
  }

  /** An agent's channel presenting the named certificate. */
  private static ManagedChannel agentChannel(String certificate) {
    return ControllerChannels.mutualTls(pki.certificate(PkiDirectory.CA),
        pki.certificate(certificate), pki.key(certificate)).open(target);
  }

  /** Registers hostId on a fresh stream: the controller's first answer, or the stream's end. */
  private static Status register(ManagedChannel channel, String hostId) throws Exception {
    CompletableFuture<Status> outcome = new CompletableFuture<>();
    StreamObserver<AgentMessage> up = AgentControlGrpc.newStub(channel).connect(
        new StreamObserver<ControllerMessage>() {
          @Override
          public void onNext(ControllerMessage message) {
            outcome.complete(message.hasRegistered()
                ? Status.OK : Status.UNKNOWN.withDescription("first answer " + message));
          }

          @Override
          public void onError(Throwable t) {
            outcome.complete(Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {
            outcome.complete(Status.UNKNOWN.withDescription("closed without answering"));
          }
        });
    up.onNext(AgentMessage.newBuilder().setRegister(Register.newBuilder()
        .setHostId(hostId).setAddress("127.0.0.1").setHypervisor("test").setAgentVersion("it")
        .setCapacity(HostCapacity.newBuilder().setVcpus(4).setMemoryMb(4096).setDiskMb(10_000)))
        .build());
    Status status = outcome.get(20, TimeUnit.SECONDS);
    up.onCompleted();
    return status;
  }

  private static List<String> hostIds() {
    try (FarmClient client = sdkClient()) {
      return client.listHosts().stream().map(Host::getId).toList();
    }
  }

  @Test
  void agentWithACertificateForItsHostRegisters() throws Exception {
    ManagedChannel channel = agentChannel("agent-host-a");
    try {
      Status status = register(channel, "host-a");
      assertEquals(Status.Code.OK, status.getCode(), status.toString());
      assertTrue(hostIds().contains("host-a"), "host-a is listed: " + hostIds());
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void agentCertificateCannotRegisterAnotherHost() throws Exception {
    ManagedChannel channel = agentChannel("agent-host-a");
    try {
      Status status = register(channel, "host-b");
      assertEquals(Status.Code.PERMISSION_DENIED, status.getCode(), status.toString());
      assertEquals("certificate is for host host-a, not host-b", status.getDescription());
      assertTrue(!hostIds().contains("host-b"), "host-b must not be listed: " + hostIds());
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void agentControlWithoutACertificateIsUnauthenticated() throws Exception {
    ManagedChannel channel = io.grpc.netty.NettyChannelBuilder.forTarget(target)
        .sslContext(io.grpc.netty.GrpcSslContexts.forClient()
            .trustManager(pki.certificate(PkiDirectory.CA).toFile()).build())
        .build();
    try {
      Status status = register(channel, "host-c");
      assertEquals(Status.Code.UNAUTHENTICATED, status.getCode(), status.toString());
      assertTrue(!hostIds().contains("host-c"), "host-c must not be listed: " + hostIds());
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void theImageStoreServesACertifiedAgentAndNotACallerWithoutCertificateOrToken()
      throws Exception {
    org.servicefarm.api.v1.StatBlobRequest stat = org.servicefarm.api.v1.StatBlobRequest
        .newBuilder().setSha256("0".repeat(64)).build();
    ManagedChannel agent = agentChannel("agent-host-a");
    ManagedChannel anonymous = io.grpc.netty.NettyChannelBuilder.forTarget(target)
        .sslContext(io.grpc.netty.GrpcSslContexts.forClient()
            .trustManager(pki.certificate(PkiDirectory.CA).toFile()).build())
        .build();
    try {
      io.grpc.StatusRuntimeException known = org.junit.jupiter.api.Assertions.assertThrows(
          io.grpc.StatusRuntimeException.class,
          () -> org.servicefarm.api.v1.ImageStoreGrpc.newBlockingStub(agent).statBlob(stat));
      assertEquals(Status.Code.NOT_FOUND, known.getStatus().getCode(),
          "the certified agent is let in and told the blob is missing");
      io.grpc.StatusRuntimeException refused = org.junit.jupiter.api.Assertions.assertThrows(
          io.grpc.StatusRuntimeException.class,
          () -> org.servicefarm.api.v1.ImageStoreGrpc.newBlockingStub(anonymous).statBlob(stat));
      assertEquals(Status.Code.UNAUTHENTICATED, refused.getStatus().getCode());
    } finally {
      agent.shutdownNow();
      anonymous.shutdownNow();
    }
  }

  @Test
  void clientCertificateNamingNoHostCannotActAsAnAgent() throws Exception {
    ManagedChannel channel = agentChannel("client-ops");
    try {
      Status status = register(channel, "ops");
      assertEquals(Status.Code.PERMISSION_DENIED, status.getCode(), status.toString());
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void aGatewayCertificateIsServedAsRoleGatewayAndNothingMore() throws Exception {
    ManagedChannel channel = agentChannel("gateway-gw1");
    try {
      java.util.Iterator<org.servicefarm.api.v1.RouteTable> tables =
          org.servicefarm.api.v1.GatewayRoutesGrpc.newBlockingStub(channel)
              .withDeadlineAfter(20, TimeUnit.SECONDS)
              .watchRoutes(org.servicefarm.api.v1.WatchRoutesRequest.getDefaultInstance());
      tables.next(); // the routing table, without a token
      io.grpc.StatusRuntimeException unknownLease = assertThrows(
          io.grpc.StatusRuntimeException.class, () ->
              org.servicefarm.api.v1.ServiceBrokerGrpc.newBlockingStub(channel)
                  .withDeadlineAfter(20, TimeUnit.SECONDS)
                  .releaseLease(org.servicefarm.api.v1.ReleaseLeaseRequest.newBuilder()
                      .setLeaseId(java.util.UUID.randomUUID().toString()).build()));
      assertEquals(Status.Code.NOT_FOUND, unknownLease.getStatus().getCode(),
          "a gateway may release leases: the lease is unknown, the caller is not");
      io.grpc.StatusRuntimeException admin = assertThrows(io.grpc.StatusRuntimeException.class,
          () -> org.servicefarm.api.v1.FarmAdminGrpc.newBlockingStub(channel)
              .withDeadlineAfter(20, TimeUnit.SECONDS)
              .listHosts(org.servicefarm.api.v1.ListHostsRequest.getDefaultInstance()));
      assertEquals(Status.Code.PERMISSION_DENIED, admin.getStatus().getCode(), admin.toString());
      assertTrue(admin.getStatus().getDescription().contains("gateway certificate 'gw1'"),
          admin.getStatus().getDescription());
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void theGatewayWatchesRoutesWithItsCertificateAndOnlyFromAControllerItsCaVouchesFor()
      throws Exception {
    PkiDirectory other = new PkiDirectory(dir.resolve("other-pki"));
    other.write(PkiDirectory.CA, CertificateIssuer.newCa("another CA"), List.of());
    try (GatewayUnderTest trusting = GatewayUnderTest.start("gw-cert",
            pki.certificate(PkiDirectory.CA));
        GatewayUnderTest mistrusting = GatewayUnderTest.start("gw-wrong-ca",
            other.certificate(PkiDirectory.CA))) {
      org.servicefarm.e2e.support.Await.until("the gateway watching routes by its certificate",
          Duration.ofSeconds(90), () -> trusting.health() == 200);
      org.servicefarm.e2e.support.Await.until("the other gateway's route watch failing",
          Duration.ofSeconds(90), () -> mistrusting.process.logTail().contains("route watch ended"));
      assertEquals(503, mistrusting.health(), "a controller certificate the gateway's --tls-ca"
          + " does not vouch for is not trusted: no routes");
    }
  }

  /** A gateway process with the gw1 certificate and no token, trusting {@code ca}. */
  private record GatewayUnderTest(org.servicefarm.e2e.support.FarmProcess process,
      int metricsPort) implements AutoCloseable {
    static GatewayUnderTest start(String name, Path ca) throws Exception {
      int metrics;
      try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
        metrics = free.getLocalPort();
      }
      return new GatewayUnderTest(org.servicefarm.e2e.support.FarmProcess.start(name,
          org.servicefarm.e2e.support.FarmJars.gateway(), dir.resolve("logs"), List.of(
              "--controller", target, "--tls-ca", ca.toString(),
              "--tls-cert", pki.certificate("gateway-gw1").toString(),
              "--tls-key", pki.key("gateway-gw1").toString(),
              "--http-port", "0", "--tcp-ports", "1-2", "--metrics-listen",
              "127.0.0.1:" + metrics)), metrics);
    }

    /** /healthz's status: 200 once the route watch is open; 0 while nothing answers. */
    int health() {
      try {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + metricsPort + "/healthz")).build(),
            HttpResponse.BodyHandlers.discarding()).statusCode();
      } catch (java.io.IOException e) {
        return 0;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return 0;
      }
    }

    @Override
    public void close() {
      process.close();
    }
  }

  @Test
  void sdkClientTrustingTheCaListsServicesOverTls() {
    try (FarmClient client = sdkClient()) {
      assertTrue(!client.options().usesPlaintext(), "a --ca-cert client uses TLS");
      client.listServices(); // answers (an empty catalog) instead of failing the handshake
    }
  }

  @Test
  void plaintextClientIsNotServed() {
    try (FarmClient client = FarmClient.connect(FarmClientOptions.builder().target(target)
        .plaintext(true).callDeadline(Duration.ofSeconds(5)).maxAttempts(1).build())) {
      RuntimeException refused =
          org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class, client::listHosts);
      assertTrue(refused.getMessage() != null, refused.toString());
    }
  }

  @Test
  void theHttpEndpointServesHttpsWithTheControllersCertificateAndASecureSignInCookie()
      throws Exception {
    ServerTls tls = new ServerTls(pki.certificate("controller"), pki.key("controller"),
        Optional.empty());
    try (WebServer web = WebServer.start(new InetSocketAddress("127.0.0.1", 0),
        WebAccess.tokens(controller.tokens().verifier()::verify),
        Optional.of(tls.httpsContext()))) {
      controller.serveWeb(web);
      String base = "https://127.0.0.1:" + web.address().getPort();
      HttpClient https = HttpClient.newBuilder()
          .sslContext(trusting(pki.certificate(PkiDirectory.CA))).build();
      HttpResponse<String> health = https.send(
          HttpRequest.newBuilder(URI.create(base + "/healthz")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, health.statusCode(), health.body());
      HttpResponse<String> signIn = https.send(HttpRequest.newBuilder(URI.create(base + "/login"))
              .header("Content-Type", "application/x-www-form-urlencoded")
              .POST(HttpRequest.BodyPublishers.ofString("token=" + adminToken)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(303, signIn.statusCode(), signIn.body());
      assertTrue(signIn.headers().firstValue("Set-Cookie").orElse("").contains("; Secure"),
          signIn.headers().toString());
      // Plaintext to the HTTPS port does not get an answer.
      assertThrows(java.io.IOException.class, () -> HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + web.address().getPort()
              + "/healthz")).build(), HttpResponse.BodyHandlers.ofString()));
    }
  }

  /** A client TLS context that trusts only the farm's CA. */
  private static SSLContext trusting(Path caPem) throws Exception {
    KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
    trusted.load(null, null);
    try (var in = Files.newInputStream(caPem)) {
      trusted.setCertificateEntry("farm-ca",
          CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory trust =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    trust.init(trusted);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, trust.getTrustManagers(), null);
    return context;
  }
}
