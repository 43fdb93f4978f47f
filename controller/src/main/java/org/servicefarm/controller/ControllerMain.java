package org.servicefarm.controller;

import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.logging.Logger;
import org.servicefarm.controller.auth.AdminTokenBootstrap;
import org.servicefarm.controller.auth.AuthSettings;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgres;
import org.servicefarm.controller.hosts.AgentIdentity;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Starts a controller: database (embedded unless a URL is given), migrations, gRPC server. */
@Command(name = "servicefarm-controller", mixinStandardHelpOptions = true,
    description = "Runs the Service Farm controller.",
    footer = {"", "Examples:",
        "  servicefarm-controller --data-dir /var/lib/servicefarm/controller",
        "  servicefarm-controller --database-url jdbc:postgresql://db:5432/servicefarm \\",
        "      --database-user farm   (password from SERVICEFARM_DB_PASSWORD)"})
public final class ControllerMain implements Callable<Integer> {
  private static final Logger LOG = Logger.getLogger(ControllerMain.class.getName());

  @Option(names = "--listen", defaultValue = "127.0.0.1:50051",
      description = "host:port to serve gRPC on (default: ${DEFAULT-VALUE})")
  String listen;

  @Option(names = "--database-url", description = "JDBC URL of a PostgreSQL database; "
      + "without it the controller runs its own embedded PostgreSQL in --data-dir")
  String databaseUrl;

  @Option(names = "--database-user", defaultValue = "postgres")
  String databaseUser;

  @Option(names = "--data-dir", description = "where the controller keeps its image store, image "
      + "builds and (without --database-url) its embedded database "
      + "(default: ~/.servicefarm/controller, or /var/lib/servicefarm/controller for root)")
  Path dataDir;

  @Option(names = "--liveness-timeout", defaultValue = "10",
      description = "seconds without a report before a host is DOWN (default: ${DEFAULT-VALUE})")
  int livenessTimeoutSeconds;

  @Option(names = "--insecure", description = "allow plaintext gRPC on a non-loopback address")
  boolean insecure;

  @Option(names = "--tls-cert", paramLabel = "FILE", description = "PEM certificate chain to "
      + "serve TLS with (farmctl pki controller); with it, plaintext is off")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE", description = "PEM PKCS#8 key of --tls-cert")
  Path tlsKey;

  @Option(names = "--tls-client-ca", paramLabel = "FILE", description = "PEM CA that signs agents'"
      + " certificates; agents must then present one naming their host id")
  Path tlsClientCa;

  /** Whether calls must carry a bearer token ({@code none} is for experiments on loopback). */
  enum AuthMode { TOKENS, NONE }

  @Option(names = "--auth", paramLabel = "MODE", defaultValue = "tokens",
      description = "tokens: clients and admins need a bearer token (the first admin token is"
          + " written to <data-dir>/admin.token); none: no authentication, allowed only in"
          + " plaintext on a loopback address (default: ${DEFAULT-VALUE})")
  AuthMode auth;

  @Override
  public Integer call() throws Exception {
    InetSocketAddress address = parseListen(listen);
    Optional<ServerTls> tls = serverTls();
    if (tls.isEmpty() && !address.getAddress().isLoopbackAddress() && !insecure) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--listen " + listen
          + " is not a loopback address; plaintext there needs --insecure");
    }
    if (auth == AuthMode.NONE && (tls.isPresent() || !address.getAddress().isLoopbackAddress())) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--auth none is allowed"
          + " only in plaintext on a loopback address, not with --listen " + listen
          + (tls.isPresent() ? " and TLS" : ""));
    }
    EmbeddedPostgres embedded = null;
    String url = databaseUrl;
    String user = databaseUser;
    Path dir = dataDir != null ? dataDir : defaultDataDir();
    if (url == null) {
      embedded = EmbeddedPostgres.start(dir.resolve("pgdata"), 0);
      url = embedded.jdbcUrl();
      user = embedded.user();
      LOG.info("embedded PostgreSQL in " + dir.resolve("pgdata") + " on port " + embedded.port());
    }
    String password = System.getenv().getOrDefault("SERVICEFARM_DB_PASSWORD", "");
    Database db = new Database(url, user, password, 32);
    var migrated = Migrations.migrate(db.dataSource());
    LOG.info("schema at version " + migrated.targetSchemaVersion + " ("
        + migrated.migrationsExecuted + " migrations applied now)");
    ControllerConfig config = ControllerConfig.defaults()
        .withLivenessTimeout(Duration.ofSeconds(livenessTimeoutSeconds));
    Controller controller = new Controller(db, config, dir);
    AuthSettings authSettings = AuthSettings.none();
    if (auth == AuthMode.TOKENS) {
      AdminTokenBootstrap.ensureAdmin(controller.tokens(), dir);
      authSettings = AuthSettings.tokens(tls.flatMap(ServerTls::clientCa).isPresent());
    } else {
      LOG.warning("--auth none: every caller may do everything; use only for experiments");
    }
    NettyServerBuilder builder = NettyServerBuilder.forAddress(address)
        .maxInboundMessageSize(4 * 1024 * 1024);
    Server server = tls.isPresent()
        ? controller.serve(tls.get().applyTo(builder), tls.get().agentIdentity(), authSettings)
        : controller.serve(builder, AgentIdentity.trustingRegistration(), authSettings);
    System.out.println("servicefarm controller serving on " + listen
        + (tls.isPresent() ? " (TLS)" : ""));
    EmbeddedPostgres pg = embedded;
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      controller.close();
      db.close();
      if (pg != null) {
        try {
          pg.close();
        } catch (java.io.IOException e) {
          System.err.println("stopping embedded PostgreSQL: " + e.getMessage());
        }
      }
    }, "shutdown"));
    server.awaitTermination();
    return 0;
  }

  /** The TLS the flags ask for, checked before anything starts; empty for plaintext. */
  private Optional<ServerTls> serverTls() {
    if (tlsCert == null && tlsKey == null && tlsClientCa == null) {
      return Optional.empty();
    }
    if (tlsCert == null || tlsKey == null) {
      throw new CommandLine.ParameterException(new CommandLine(this),
          "TLS needs both --tls-cert and --tls-key (got " + (tlsCert != null ? "--tls-cert "
              + tlsCert : "--tls-key " + tlsKey) + (tlsClientCa != null ? ", --tls-client-ca "
              + tlsClientCa : "") + ")");
    }
    try {
      ServerTls tls = new ServerTls(tlsCert, tlsKey, Optional.ofNullable(tlsClientCa));
      tls.sslContext(); // a bad file fails here, before the database starts
      return Optional.of(tls);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage(), e);
    }
  }

  // Root's home is closed to the unprivileged user the embedded PostgreSQL runs as.
  private static Path defaultDataDir() {
    boolean root = "root".equals(System.getProperty("user.name"));
    return root ? Path.of("/var/lib/servicefarm/controller")
        : Path.of(System.getProperty("user.home"), ".servicefarm", "controller");
  }

  static InetSocketAddress parseListen(String value) throws java.net.UnknownHostException {
    int colon = value.lastIndexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("--listen: '" + value + "' is not host:port");
    }
    int port;
    try {
      port = Integer.parseInt(value.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--listen: '" + value + "' has no numeric port");
    }
    return new InetSocketAddress(InetAddress.getByName(value.substring(0, colon)), port);
  }

  public static void main(String[] args) {
    CommandLine cli = new CommandLine(new ControllerMain());
    cli.setCaseInsensitiveEnumValuesAllowed(true); // --auth none
    // A failure to start is told in one line; the stack trace helps nobody running the daemon.
    cli.setExecutionExceptionHandler((e, commandLine, parsed) -> {
      commandLine.getErr().println("servicefarm-controller: " + e.getMessage());
      return 1;
    });
    System.exit(cli.execute(args));
  }
}
