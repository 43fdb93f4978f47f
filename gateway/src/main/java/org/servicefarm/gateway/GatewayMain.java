package org.servicefarm.gateway;

import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.ssl.SslContextBuilder;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.OutputStream;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;
import org.servicefarm.http.HttpEndpoint;
import org.servicefarm.http.WebExchange;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** servicefarm-gateway: stable addresses for the farm's services that wake VMs on connection. */
@Command(name = "servicefarm-gateway", mixinStandardHelpOptions = true,
    description = "Serves every service of the farm at a stable address (its gateway port, and"
        + " Host: <service>.<domain> on the HTTP port) and wakes, restores or builds its VM when"
        + " a connection finds none ACTIVE.")
public final class GatewayMain implements Callable<Integer> {
  private static final Pattern HOST_PORT = Pattern.compile("(.+):(\\d{1,5})");
  private static final Pattern PORT_RANGE = Pattern.compile("(\\d{1,5})-(\\d{1,5})");

  @Spec
  CommandSpec spec;

  @Option(names = "--controller", defaultValue = "127.0.0.1:50051", paramLabel = "HOST:PORT",
      description = "The controller (any of them; followers forward). Default: ${DEFAULT-VALUE}.")
  String controller;

  @Option(names = "--token-file", paramLabel = "FILE",
      description = "File holding a bearer token of role gateway"
          + " (farmctl token create --name gw1 --role gateway). Or --tls-cert.")
  Path tokenFile;

  @Option(names = "--tls-cert", paramLabel = "FILE",
      description = "PEM client certificate naming this gateway (farmctl pki gateway --name"
          + " gw1), presented over TLS (--tls-ca) instead of a token: the controller, given"
          + " --tls-client-ca, serves it as role gateway.")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE",
      description = "PEM private key of --tls-cert.")
  Path tlsKey;

  @Option(names = "--tls-ca", paramLabel = "FILE",
      description = "PEM CA the controller's certificate must chain to: TLS to the controller."
          + " Without it, plaintext, which only a loopback controller or --insecure allows.")
  Path tlsCa;

  @Option(names = "--insecure", description = "Allow plaintext to a controller that is not on"
      + " loopback, and listening on an address that is not loopback.")
  boolean insecure;

  @Option(names = "--listen-address", defaultValue = "127.0.0.1", paramLabel = "ADDRESS",
      description = "Where the HTTP port and every service port listen. Default: ${DEFAULT-VALUE}.")
  String listenAddress;

  @Option(names = "--tcp-ports", defaultValue = "30000-32767", paramLabel = "FIRST-LAST",
      description = "Service gateway ports this gateway opens (the controller chooses them in"
          + " 30000-32767). Default: ${DEFAULT-VALUE}.")
  String tcpPorts;

  @Option(names = "--http-port", defaultValue = "8080", paramLabel = "PORT",
      description = "HTTP port routed by Host: <service>.<domain>; 0 picks a free one."
          + " Default: ${DEFAULT-VALUE}.")
  int httpPort;

  @Option(names = "--domain", defaultValue = GatewaySettings.DEFAULT_DOMAIN, paramLabel = "DOMAIN",
      description = "HTTP requests for <service>.DOMAIN go to the service; every name under"
          + " localhost resolves to loopback in curl and browsers. Default: ${DEFAULT-VALUE}.")
  String domain;

  @Option(names = "--hold-timeout", defaultValue = "60", paramLabel = "SECONDS",
      description = "How long a connection is held for its VM before it is given up (HTTP 503)."
          + " Default: ${DEFAULT-VALUE}.")
  int holdTimeoutSeconds;

  @Option(names = "--release-grace", defaultValue = "30", paramLabel = "SECONDS",
      description = "How long a VM's lease is kept after its last connection closed."
          + " Default: ${DEFAULT-VALUE}.")
  int releaseGraceSeconds;

  @Option(names = "--max-held-per-service", defaultValue = "512", paramLabel = "N",
      description = "Connections one service may have held at once. Default: ${DEFAULT-VALUE}.")
  int maxHeldPerService;

  @Option(names = "--max-held", defaultValue = "4096", paramLabel = "N",
      description = "Connections held at once in all, HTTP requests still sending their head"
          + " included. Default: ${DEFAULT-VALUE}.")
  int maxHeld;

  @Option(names = "--max-header-bytes", defaultValue = "16384", paramLabel = "BYTES",
      description = "Longest HTTP request head read. Default: ${DEFAULT-VALUE}.")
  int maxHeaderBytes;

  @Option(names = "--header-timeout", defaultValue = "10", paramLabel = "SECONDS",
      description = "Time an HTTP client has to send its request head. Default: ${DEFAULT-VALUE}.")
  int headerTimeoutSeconds;

  @Option(names = "--transport", defaultValue = "auto", paramLabel = "auto|epoll|nio",
      description = "Socket transport: Netty's native epoll on Linux (fewer copies and system"
          + " calls), NIO elsewhere; auto picks epoll when it loads. Default: ${DEFAULT-VALUE}.")
  String transport;

  @Option(names = "--metrics-listen", defaultValue = "127.0.0.1:50054", paramLabel = "HOST:PORT",
      description = "Where /metrics (Prometheus) and /healthz are served; port 0 picks a free"
          + " one, 'off' serves none. Default: ${DEFAULT-VALUE}.")
  String metricsListen;

  public static void main(String[] args) {
    System.exit(new CommandLine(new GatewayMain()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    GatewaySettings settings = settings();
    NettyTransport sockets;
    try {
      sockets = NettyTransport.named(transport);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "--transport " + transport + ": "
          + e.getMessage(), e);
    }
    int[] range = portRange();
    InetAddress bind = address("--listen-address", listenAddress);
    if (!bind.isLoopbackAddress() && !insecure) {
      throw new ParameterException(spec.commandLine(), "--listen-address " + listenAddress
          + " is not loopback: anyone who reaches it reaches every service; pass --insecure"
          + " to mean it");
    }
    String token = tokenFile == null ? null : token();
    if (token == null && tlsCert == null) {
      throw new ParameterException(spec.commandLine(), "the gateway needs a credential:"
          + " --token-file (a token of role gateway) or --tls-cert and --tls-key (a certificate"
          + " from farmctl pki gateway)");
    }
    ManagedChannel channel = channel();
    FarmClientOptions options = FarmClientOptions.builder().target(controller)
        .plaintext(tlsCa == null).bearerToken(token)
        .requestServiceDeadline(settings.holdTimeout()).build();
    FarmClient client = new FarmClient(channel, options);
    Metadata auth = new Metadata();
    if (token != null) {
      auth.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
          "Bearer " + token);
    }
    GatewayMetrics metrics = new GatewayMetrics();
    Gateway gateway = new Gateway(new FarmClientFarm(client),
        ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(auth)),
        settings, metrics, bind, range[0], range[1], sockets);
    gateway.start(httpPort);
    Optional<HttpEndpoint> http = metricsEndpoint(gateway);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      gateway.close();
      http.ifPresent(HttpEndpoint::close);
      channel.shutdownNow();
      stopped.countDown();
    }, "gateway-stop"));
    InetSocketAddress at = gateway.httpAddress();
    // One line for people and scripts (tests read the ports from it).
    System.out.println("gateway: http " + at.getAddress().getHostAddress() + ":" + at.getPort()
        + " (Host: <service>." + domain + "), service ports " + tcpPorts + " on "
        + bind.getHostAddress() + ", metrics " + http.map(h -> h.address().getAddress()
            .getHostAddress() + ":" + h.address().getPort()).orElse("off") + ", transport "
        + sockets
        + ", controller " + controller);
    System.out.flush();
    stopped.await();
    return 0;
  }

  private GatewaySettings settings() {
    try {
      return new GatewaySettings(Duration.ofSeconds(holdTimeoutSeconds),
          Duration.ofSeconds(releaseGraceSeconds), maxHeldPerService, maxHeld, maxHeaderBytes,
          Duration.ofSeconds(headerTimeoutSeconds), domain);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
  }

  private int[] portRange() {
    Matcher m = PORT_RANGE.matcher(tcpPorts);
    int first = m.matches() ? Integer.parseInt(m.group(1)) : 0;
    int last = m.matches() ? Integer.parseInt(m.group(2)) : 0;
    if (first < 1 || last > 65535 || first > last) {
      throw new ParameterException(spec.commandLine(),
          "--tcp-ports '" + tcpPorts + "' must be FIRST-LAST within 1-65535");
    }
    return new int[] {first, last};
  }

  private InetAddress address(String option, String value) {
    try {
      return InetAddress.getByName(value);
    } catch (UnknownHostException e) {
      throw new ParameterException(spec.commandLine(), option + " '" + value
          + "' is not an address this machine can resolve", e);
    }
  }

  private String token() throws IOException {
    if (!Files.isReadable(tokenFile)) {
      throw new ParameterException(spec.commandLine(), "--token-file " + tokenFile
          + " cannot be read");
    }
    String token = Files.readString(tokenFile, StandardCharsets.UTF_8).trim();
    if (token.isEmpty()) {
      throw new ParameterException(spec.commandLine(), "--token-file " + tokenFile + " is empty");
    }
    return token;
  }

  private ManagedChannel channel() {
    Matcher m = HOST_PORT.matcher(controller);
    if (!m.matches() || Integer.parseInt(m.group(2)) > 65535) {
      throw new ParameterException(spec.commandLine(),
          "--controller '" + controller + "' must be HOST:PORT");
    }
    String host = m.group(1);
    NettyChannelBuilder builder = NettyChannelBuilder.forAddress(host,
        Integer.parseInt(m.group(2)));
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new ParameterException(spec.commandLine(),
          "--tls-cert and --tls-key go together: give both or neither");
    }
    if (tlsCert != null && tlsCa == null) {
      throw new ParameterException(spec.commandLine(), "--tls-cert " + tlsCert
          + " needs --tls-ca: the gateway presents its certificate only to a controller it"
          + " verifies");
    }
    if (tlsCa == null) {
      if (!insecure && !address("--controller", host).isLoopbackAddress()) {
        throw new ParameterException(spec.commandLine(), "--controller " + controller
            + " is not loopback; plaintext there needs --insecure (or --tls-ca for TLS)");
      }
      return builder.usePlaintext().build();
    }
    SslContextBuilder ssl;
    try {
      ssl = GrpcSslContexts.forClient().trustManager(tlsCa.toFile());
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "--tls-ca " + tlsCa
          + " is not a usable PEM CA certificate: " + e.getMessage(), e);
    }
    if (tlsCert != null) {
      try {
        ssl.keyManager(tlsCert.toFile(), tlsKey.toFile());
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), "--tls-cert " + tlsCert + " and"
            + " --tls-key " + tlsKey + " are not a usable PEM certificate and key: "
            + e.getMessage(), e);
      }
    }
    try {
      return builder.sslContext(ssl.build()).build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "TLS with --tls-ca " + tlsCa
          + (tlsCert == null ? "" : " and --tls-cert " + tlsCert) + " cannot be set up: "
          + e.getMessage(), e);
    }
  }

  private Optional<HttpEndpoint> metricsEndpoint(Gateway gateway) throws IOException {
    if ("off".equals(metricsListen)) {
      return Optional.empty();
    }
    Matcher m = HOST_PORT.matcher(metricsListen);
    if (!m.matches() || Integer.parseInt(m.group(2)) > 65535) {
      throw new ParameterException(spec.commandLine(), "--metrics-listen '" + metricsListen
          + "' must be HOST:PORT or off");
    }
    InetAddress host = address("--metrics-listen", m.group(1));
    if (!host.isLoopbackAddress() && !insecure) {
      throw new ParameterException(spec.commandLine(), "--metrics-listen " + metricsListen
          + " is not loopback; plaintext there needs --insecure");
    }
    HttpEndpoint.Limits d = HttpEndpoint.Limits.defaults();
    return Optional.of(HttpEndpoint.start("gateway-http",
        new InetSocketAddress(host, Integer.parseInt(m.group(2))),
        new HttpEndpoint.Limits(d.maxConnections(), d.maxRequestBytes(), d.requestTimeout(),
            d.idleTimeout(), 2, d.queuedRequests()),
        Optional.empty(), Map.of(
            "/metrics", exchange -> {
              ByteArrayOutputStream body = new ByteArrayOutputStream(8 * 1024);
              gateway.metrics().write(body);
              send(exchange, 200, gateway.metrics().contentType(), body.toByteArray());
            },
            "/healthz", exchange -> {
              boolean up = gateway.routesConnected();
              send(exchange, up ? 200 : 503, "text/plain; charset=utf-8",
                  (up ? "routes: watching\n" : "routes: not connected to a controller\n")
                      .getBytes(StandardCharsets.UTF_8));
            })));
  }

  private static void send(WebExchange exchange, int status, String type, byte[] body)
      throws IOException {
    exchange.getResponseHeaders().set("Content-Type", type);
    exchange.sendResponseHeaders(status, body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }
}
