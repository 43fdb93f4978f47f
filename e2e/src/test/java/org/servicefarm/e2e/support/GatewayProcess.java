package org.servicefarm.e2e.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A gateway as a real process, with a token of role gateway of its own, for a {@link ProcessFarm},
 * and a small HTTP/1.1 client that names the service in the Host header as curl would for
 * {@code http://<service>.localhost:<port>/}.
 */
public final class GatewayProcess implements AutoCloseable {
  private final FarmProcess process;
  private final String listenAddress;
  private final int httpPort;
  private final int metricsPort;

  private GatewayProcess(FarmProcess process, String listenAddress, int httpPort,
      int metricsPort) {
    this.process = process;
    this.listenAddress = listenAddress;
    this.httpPort = httpPort;
    this.metricsPort = metricsPort;
  }

  /**
   * Starts a gateway on {@code listenAddress} (a loopback address) and waits until its route
   * watch is open.
   */
  public static GatewayProcess start(ProcessFarm farm, String name, String listenAddress,
      List<String> extraArgs) throws IOException {
    Path token = farm.dir().resolve(name + ".token");
    String secret = farm.client().tokens().create(name, "gateway").getSecret();
    Files.writeString(token, secret);
    int http = freePort();
    int metrics = freePort();
    List<String> args = new ArrayList<>(List.of("--controller", farm.target(),
        "--token-file", token.toString(), "--listen-address", listenAddress,
        "--http-port", String.valueOf(http), "--metrics-listen", "127.0.0.1:" + metrics));
    args.addAll(extraArgs);
    FarmProcess process = FarmProcess.start(name, FarmJars.gateway(), farm.dir().resolve("logs"),
        args);
    GatewayProcess gateway = new GatewayProcess(process, listenAddress, http, metrics);
    Await.until("gateway " + name + " watching routes", Duration.ofSeconds(60), () -> {
      if (!process.isAlive()) {
        throw new IllegalStateException("gateway " + name + " exited:\n" + process.logTail());
      }
      return gateway.healthy();
    });
    return gateway;
  }

  public int httpPort() {
    return httpPort;
  }

  public String listenAddress() {
    return listenAddress;
  }

  public FarmProcess process() {
    return process;
  }

  public boolean healthy() {
    try {
      return HttpClient.newHttpClient().send(HttpRequest.newBuilder(
              URI.create("http://127.0.0.1:" + metricsPort + "/healthz")).build(),
          HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** The /metrics text. */
  public String metrics() throws IOException, InterruptedException {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + metricsPort + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  /** One sample's value from /metrics (0 when absent), e.g. a counter with its labels. */
  public double metric(String nameWithLabels) throws IOException, InterruptedException {
    for (String line : metrics().split("\n")) {
      if (line.startsWith(nameWithLabels + " ")) {
        return Double.parseDouble(line.substring(nameWithLabels.length() + 1).trim());
      }
    }
    return 0;
  }

  /** A response as the client read it. */
  public record Response(int status, Map<String, String> headers, String body) {
    public String header(String name) {
      return headers.getOrDefault(name.toLowerCase(Locale.ROOT), "");
    }
  }

  /** GET / with {@code Host: <service>.localhost}, on a connection of its own. */
  public Response get(String service, Duration timeout) throws IOException {
    return get(listenAddress, httpPort, service + ".localhost", timeout);
  }

  public static Response get(String address, int port, String host, Duration timeout) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(address, port), 5000);
      socket.setSoTimeout((int) timeout.toMillis());
      OutputStream out = socket.getOutputStream();
      out.write(("GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      return read(socket.getInputStream());
    }
  }

  /** Reads one whole response from a connection the server closes after it. */
  public static Response read(InputStream in) throws IOException {
    String text = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
    int headEnd = text.indexOf("\r\n\r\n");
    if (headEnd < 0) {
      throw new IOException("no HTTP response head in " + text.length() + " bytes: " + text);
    }
    String[] lines = text.substring(0, headEnd).split("\r\n");
    Map<String, String> headers = new LinkedHashMap<>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
          lines[i].substring(colon + 1).trim());
    }
    return new Response(Integer.parseInt(lines[0].split(" ")[1]), headers,
        text.substring(headEnd + 4));
  }

  public void kill() throws InterruptedException {
    process.kill();
  }

  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() {
    process.close();
  }
}
