package org.servicefarm.controller;

import org.servicefarm.controller.lifecycle.HistoryRetention;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import org.servicefarm.config.ConfigOptions;
import org.servicefarm.config.DaemonConfig;
import org.servicefarm.controller.auth.AgentIdentity;
import org.servicefarm.controller.auth.AuthSettings;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgres;
import org.servicefarm.controller.ha.PeerChannels;
import org.servicefarm.controller.images.BlobStorage;
import org.servicefarm.controller.images.BuildAccount;
import org.servicefarm.controller.images.ImageSettings;
import org.servicefarm.controller.images.PrivatePaths;
import org.servicefarm.controller.reconcile.OrphanPolicy;
import org.servicefarm.controller.web.WebServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** Starts a controller: database (embedded unless a URL is given), migrations, gRPC server. */
@Command(name = "servicefarm-controller", mixinStandardHelpOptions = true,
    description = "Runs the Service Farm controller.",
    footer = {"", "Examples:",
        "  servicefarm-controller --data-dir /var/lib/servicefarm/controller",
        "  servicefarm-controller --database-url jdbc:postgresql://db:5432/servicefarm \\",
        "      --database-user farm   (password from SERVICEFARM_DB_PASSWORD)",
        "",
        "Every option may also be set as SERVICEFARM_<OPTION> in the environment or as",
        "option = value in the config file (flag > environment > file > default).",
        "  servicefarm-controller --config /etc/servicefarm/controller.conf --print-config",
        "  servicefarm-controller --blob-store s3://farm-blobs/prod \\",
        "      --s3-endpoint http://minio:9000  (keys from AWS_ACCESS_KEY_ID and",
        "      AWS_SECRET_ACCESS_KEY)",
        "  servicefarm-controller --config /etc/servicefarm/controller.conf \\",
        "      backup /var/backups/farm.backup   (and restore FILE)"})
public final class ControllerMain implements Callable<Integer> {
  private static final Logger LOG = Logger.getLogger(ControllerMain.class.getName());
  static final Path DEFAULT_CONFIG = Path.of("/etc/servicefarm/controller.conf");

  @Mixin
  ConfigOptions configOptions;

  @Mixin
  BlobStoreOptions blobStoreOptions;

  @Mixin
  ImageOptions imageOptions;

  @Mixin
  SecurityOptions security;

  @Option(names = "--listen", defaultValue = "127.0.0.1:50051",
      description = "host:port to serve gRPC on (default: ${DEFAULT-VALUE})")
  String listen;

  @Option(names = "--advertise", paramLabel = "HOST:PORT", description = "where other controllers"
      + " and clients reach this one, told to followers while it leads (default: --listen; needed"
      + " when --listen is a wildcard address such as 0.0.0.0)")
  String advertise;

  @Option(names = "--http-listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:50052",
      description = "host:port to serve HTTP on: the dashboard and /metrics (admin token) and"
          + " /healthz; HTTPS with --tls-cert's certificate; 'off' for none; a non-loopback"
          + " address without TLS needs --insecure, as plaintext gRPC does"
          + " (default: ${DEFAULT-VALUE})")
  String httpListen;

  @Option(names = "--gateway-host", paramLabel = "HOST", defaultValue = "127.0.0.1",
      description = "where clients reach the farm's gateways: each service's gateway address"
          + " in ListServices and RequestService answers is HOST and the service's gateway port"
          + " (default: ${DEFAULT-VALUE})")
  String gatewayHost;

  @Option(names = "--database-url", description = "JDBC URL of a PostgreSQL database; "
      + "without it the controller runs its own embedded PostgreSQL in --data-dir")
  String databaseUrl;

  @Option(names = "--database-user", defaultValue = "postgres", description = "user of"
      + " --database-url; the password comes from SERVICEFARM_DB_PASSWORD (default: ${DEFAULT-VALUE})")
  String databaseUser;

  @Option(names = "--embedded-database-port", paramLabel = "PORT", defaultValue = "0",
      description = "also serve the embedded PostgreSQL on 127.0.0.1:PORT for tools such as psql,"
          + " as user postgres with the password in <data-dir>/pgdata/servicefarm.password;"
          + " 0: no TCP listener, only the controller's Unix socket (default: ${DEFAULT-VALUE})")
  int embeddedDatabasePort;

  @Option(names = "--data-dir", description = "where the controller keeps its image store, image "
      + "builds and (without --database-url) its embedded database "
      + "(default: ~/.servicefarm/controller, or /var/lib/servicefarm/controller for root)")
  Path dataDir;

  @Option(names = "--liveness-timeout", defaultValue = "10",
      description = "seconds without a report before a host is DOWN (default: ${DEFAULT-VALUE})")
  int livenessTimeoutSeconds;

  @Option(names = "--orphans", paramLabel = "POLICY", defaultValue = "report",
      description = "what becomes of a farm domain on a host that the VM table does not place"
          + " there: report (an ORPHAN event, nothing touched) or delete (also removed once"
          + " unclaimed for --orphan-grace, never while a VM row or a live lease refers to it)"
          + " (default: ${DEFAULT-VALUE})")
  OrphanPolicy.Mode orphans;

  @Option(names = "--orphan-grace", paramLabel = "SECONDS", defaultValue = "60",
      description = "how long --orphans delete waits after first seeing an orphan"
          + " (default: ${DEFAULT-VALUE})")
  int orphanGraceSeconds;

  @Option(names = "--audit-retention-days", paramLabel = "DAYS", defaultValue = "90",
      description = "how long the audit trail keeps its records (farmctl audit)"
          + " (default: ${DEFAULT-VALUE})")
  int auditRetentionDays;

  @Option(names = "--retain-deleted-vms-days", paramLabel = "DAYS", defaultValue = "30",
      description = "how long a DELETED VM's row (with its operations and leases) is kept for"
          + " listings and history; 0 keeps it forever (default: ${DEFAULT-VALUE})")
  int retainDeletedVmsDays;

  @Option(names = "--retain-events-days", paramLabel = "DAYS", defaultValue = "90",
      description = "how long events are kept (farmctl events, WatchEvents replay); 0 keeps them"
          + " forever (default: ${DEFAULT-VALUE})")
  int retainEventsDays;

  @Override
  public Integer call() throws Exception {
    InetSocketAddress address = parseListen(listen);
    Optional<ServerTls> tls = security.serverTls();
    security.checkGrpcListen(listen, address, tls);
    EmbeddedPostgres embedded = null;
    String url = databaseUrl;
    String user = databaseUser;
    Path dir = dataDir != null ? dataDir : defaultDataDir();
    ImageSettings images = imageOptions.settings();
    // A blob store that cannot be reached fails the start before anything else is started.
    BlobStorage blobs = blobStoreOptions.open(dir, images.storeQuotaBytes());
    restrictDataDir(dir, url == null);
    BuildAccount builds = BuildAccount.ofThisProcess();
    if (builds.canCompose()) {
      LOG.info(builds.describe());
    } else {
      LOG.warning(builds.describe());
    }
    if (url == null) {
      embedded = EmbeddedPostgres.start(dir.resolve("pgdata"), embeddedDatabasePort,
          embeddedDatabasePort != 0);
      url = embedded.jdbcUrl();
      user = embedded.user();
      LOG.info("embedded PostgreSQL in " + dir.resolve("pgdata") + " on " + embedded.socketFile()
          + (embedded.listensOnTcp() ? " and 127.0.0.1:" + embedded.port() : ""));
    }
    String password = System.getenv().getOrDefault("SERVICEFARM_DB_PASSWORD", "");
    Database db = new Database(url, user, password, 32);
    var migrated = Migrations.migrate(db.dataSource());
    LOG.info("schema at version " + migrated.targetSchemaVersion + " ("
        + migrated.migrationsExecuted + " migrations applied now)");
    if (auditRetentionDays < 1) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--audit-retention-days "
          + auditRetentionDays + ": give 1 day or more");
    }
    if (retainDeletedVmsDays < 0 || retainEventsDays < 0) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--retain-deleted-vms-days "
          + retainDeletedVmsDays + ", --retain-events-days " + retainEventsDays
          + ": give days, 0 (keep forever) or more");
    }
    if (orphanGraceSeconds < 0) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--orphan-grace "
          + orphanGraceSeconds + ": give seconds, 0 or more");
    }
    ControllerConfig config = ControllerConfig.defaults()
        .withImages(images)
        .withLivenessTimeout(Duration.ofSeconds(livenessTimeoutSeconds))
        .withOrphans(new OrphanPolicy.Settings(orphans, Duration.ofSeconds(orphanGraceSeconds)))
        .withAuditRetention(Duration.ofDays(auditRetentionDays))
        .withHistory(new HistoryRetention(Duration.ofDays(retainDeletedVmsDays),
            Duration.ofDays(retainEventsDays)));
    String advertised = advertisedAddress(address);
    // Several controllers may share the database: followers forward clients' calls to the leader,
    // over TLS verified by the farm's CA when this controller serves TLS.
    PeerChannels peers = tls.isEmpty() ? PeerChannels.plaintext()
        : PeerChannels.tls(tls.get().clientCa().orElse(tls.get().certificateChain()));
    Controller controller = new Controller(db, config, dir, advertised, peers, blobs);
    controller.gatewayAddresses().advertiseHost(gatewayHost);
    AuthSettings authSettings = security.authSettings(controller, dir, tls);
    // Larger messages and headers are refused with RESOURCE_EXHAUSTED before they are parsed.
    NettyServerBuilder builder = NettyServerBuilder.forAddress(address)
        .maxInboundMessageSize(4 * 1024 * 1024)
        .maxInboundMetadataSize(16 * 1024)
        // Agents ping their stream every 10 s to notice a dead connection (a partition, a
        // controller gone without closing it). grpc-java's default permits one ping per 5 minutes
        // and answers more with GOAWAY too_many_pings, which cut every agent's stream each
        // minute; allow the agents' rate, with room for timer jitter.
        .permitKeepAliveTime(5, TimeUnit.SECONDS);
    Server server = tls.isPresent()
        ? controller.serve(tls.get().applyTo(builder), tls.get().agentIdentity(), authSettings)
        : controller.serve(builder, AgentIdentity.trustingRegistration(), authSettings);
    WebServer web = startWeb(controller, tls);
    System.out.println("servicefarm controller serving on " + listen
        + (tls.isPresent() ? " (TLS)" : "")
        + (web == null ? "" : (tls.isPresent() ? ", HTTPS on " : ", HTTP on ")
            + web.address().getHostString() + ":"
            + web.address().getPort()));
    EmbeddedPostgres pg = embedded;
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      if (web != null) {
        web.close();
      }
      controller.close();
      peers.close();
      blobs.close();
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

  /** The HTTP endpoint, or null with {@code --http-listen off}. */
  private WebServer startWeb(Controller controller, Optional<ServerTls> tls)
      throws java.io.IOException {
    if ("off".equals(httpListen)) {
      return null;
    }
    InetSocketAddress address = parseOption("--http-listen", httpListen);
    security.checkHttpListen(httpListen, address, tls);
    WebServer web = WebServer.start(address, security.webAccess(controller),
        tls.map(ServerTls::httpsContext));
    controller.serveWeb(web);
    return web;
  }

  private String advertisedAddress(InetSocketAddress address) {
    if (advertise != null) {
      String value = advertise.strip();
      int colon = value.lastIndexOf(':');
      if (colon <= 0 || !value.substring(colon + 1).matches("[0-9]{1,5}")) {
        throw new CommandLine.ParameterException(new CommandLine(this),
            "--advertise '" + advertise + "' is not host:port");
      }
      return value;
    }
    if (address.getAddress().isAnyLocalAddress()) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--listen " + listen
          + " is a wildcard address; say where others reach this controller with --advertise");
    }
    return listen;
  }

  /**
   * The data directory is the controller's alone (0700). A root controller's embedded PostgreSQL
   * runs as user servicefarm, which must pass through it to reach pgdata/, so then it is 0711:
   * others may pass but not list, and every entry in it is private on its own (0700 or 0600, the
   * database's directory owned by the database's account).
   */
  private static void restrictDataDir(Path dir, boolean embeddedDatabase) throws IOException {
    boolean root = "root".equals(System.getProperty("user.name"));
    Files.createDirectories(dir);
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString(
        embeddedDatabase && root ? "rwx--x--x" : "rwx------"));
    try (var entries = Files.list(dir)) {
      for (Path entry : entries.toList()) {
        if (entry.getFileName().toString().equals("pgdata") || Files.isSymbolicLink(entry)) {
          continue;  // PostgreSQL keeps its own directory 0700; a link is not ours to change
        }
        if (Files.isDirectory(entry)) {
          PrivatePaths.directory(entry);
        } else {
          PrivatePaths.file(entry);
        }
      }
    }
  }

  // Root's home is closed to the unprivileged user the embedded PostgreSQL runs as.
  static Path defaultDataDir() {
    boolean root = "root".equals(System.getProperty("user.name"));
    return root ? Path.of("/var/lib/servicefarm/controller")
        : Path.of(System.getProperty("user.home"), ".servicefarm", "controller");
  }

  static InetSocketAddress parseListen(String value) throws java.net.UnknownHostException {
    return parseOption("--listen", value);
  }

  private static InetSocketAddress parseOption(String option, String value)
      throws java.net.UnknownHostException {
    int colon = value.lastIndexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException(option + ": '" + value + "' is not host:port");
    }
    int port;
    try {
      port = Integer.parseInt(value.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(option + ": '" + value + "' has no numeric port");
    }
    return new InetSocketAddress(InetAddress.getByName(value.substring(0, colon)), port);
  }

  public static void main(String[] args) {
    System.exit(DaemonConfig.execute(commandLine(), args, System.getenv(), DEFAULT_CONFIG));
  }

  static CommandLine commandLine() {
    CommandLine cli = new CommandLine(new ControllerMain())
        .addSubcommand(new BackupCommand())
        .addSubcommand(new RestoreCommand())
        .addSubcommand(new RotateManifestKeyCommand());
    cli.setCaseInsensitiveEnumValuesAllowed(true); // --auth none
    // A failure to start is told in one line; the stack trace helps nobody running the daemon.
    cli.setExecutionExceptionHandler((e, commandLine, parsed) -> {
      commandLine.getErr().println("servicefarm-controller: " + e.getMessage());
      return 1;
    });
    return cli;
  }
}
