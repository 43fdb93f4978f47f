package org.servicefarm.e2e.support;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.servicefarm.api.v1.Host;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;

/**
 * A whole farm of real processes on this machine: one controller with its embedded PostgreSQL
 * and any number of agents, each on its own libvirt connection (the test driver's state lives in
 * the agent process, so every agent is a separate simulated host).
 */
public final class ProcessFarm implements AutoCloseable {
  private final Path dir;
  private final int port;
  private final int httpPort;
  private final String libvirtUri;
  private FarmProcess controller;
  private final Map<String, FarmProcess> agents = new LinkedHashMap<>();
  private final Map<String, Integer> agentHttpPorts = new LinkedHashMap<>();
  private FarmClient client;
  private Duration clientRequestDeadline;
  private final List<String> databaseArgs = new java.util.ArrayList<>();
  private String listenHost = "127.0.0.1";

  public ProcessFarm(String libvirtUri) throws IOException {
    this.dir = Files.createTempDirectory("servicefarm-e2e");
    // A controller running as root runs PostgreSQL as an unprivileged user, who must enter here.
    Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    this.port = freePort();
    this.httpPort = freePort();
    this.libvirtUri = libvirtUri;
    System.out.println("this farm's process logs are kept in e2e/target/farm-logs/"
        + dir.getFileName());
  }

  public String target() {
    return listenHost + ":" + port;
  }

  /** The controller's HTTP endpoint (dashboard, metrics, /healthz) as a URL without a path. */
  public String httpBase() {
    return "http://127.0.0.1:" + httpPort;
  }

  /** The agent's metrics and health endpoint (--metrics-listen) as a URL without a path. */
  public String agentHttpBase(String hostId) {
    return "http://127.0.0.1:" + agentHttpPorts.get(hostId);
  }

  /**
   * Controllers started from now on listen on this address, and agents and the client dial it.
   * All in plaintext: off loopback the farm passes --insecure to the controller and the agents.
   */
  public void listenOn(String host) {
    listenHost = host;
  }

  public Path dir() {
    return dir;
  }

  /** Controllers started from now on use this database instead of an embedded one. */
  public void useDatabase(StandalonePostgres postgres) {
    useDatabase(postgres.jdbcUrl(), postgres.user());
  }

  /** Controllers started from now on use the database at this JDBC URL. */
  public void useDatabase(String jdbcUrl, String user) {
    databaseArgs.clear();
    databaseArgs.addAll(List.of("--database-url", jdbcUrl, "--database-user", user));
  }

  public void startController() throws IOException {
    startController(List.of(), Map.of());
  }

  /**
   * Starts the controller with extra flags and environment (e.g. a failpoint), and waits until it
   * serves.
   */
  public void startController(List<String> extraArgs, Map<String, String> env) throws IOException {
    startController(extraArgs, env, List.of());
  }

  /**
   * Starts the controller as another operating-system account (this test runs as root): its
   * data directory and a cache for the embedded PostgreSQL's binaries are made that account's
   * first. {@code setpriv} execs the JVM itself, so stopping the controller stops that JVM.
   */
  public void startControllerAs(String account) throws IOException, InterruptedException {
    startControllerAs(account, List.of());
  }

  /** The layer cache the build's tests share: the project's {@code target/layer-cache}. */
  public static Path sharedLayerCache() {
    return FarmJars.root().resolve("target").resolve("layer-cache");
  }

  /** As {@link #startControllerAs(String)}, with more setpriv flags (e.g. --no-new-privs). */
  public void startControllerAs(String account, List<String> setprivFlags)
      throws IOException, InterruptedException {
    startControllerAs(account, setprivFlags, List.of());
  }

  /** As {@link #startControllerAs(String, List)}, with extra controller flags. */
  public void startControllerAs(String account, List<String> setprivFlags, List<String> extraArgs)
      throws IOException, InterruptedException {
    Path data = Files.createDirectories(dir.resolve("controller"));
    Path home = Files.createDirectories(dir.resolve("home-" + account));
    for (Path owned : List.of(data, home)) {
      if (CommandRun.of(dir, List.of("chown", account + ":", owned.toString())).exitCode() != 0) {
        throw new IOException("cannot give " + owned + " to " + account);
      }
    }
    List<String> prefix = new java.util.ArrayList<>(List.of("setpriv", "--reuid=" + account,
        "--regid=" + account, "--init-groups"));
    prefix.addAll(setprivFlags);
    prefix.add("--");
    startController(extraArgs, Map.of("HOME", home.toString(), "XDG_CACHE_HOME",
        home.toString()), prefix);
  }

  private void startController(List<String> extraArgs, Map<String, String> env,
      List<String> prefix) throws IOException {
    List<String> args = new java.util.ArrayList<>(List.of("--listen", target(), "--data-dir",
        dir.resolve("controller").toString(), "--liveness-timeout", "6",
        "--http-listen", "127.0.0.1:" + httpPort));
    if (!listenHost.startsWith("127.")) {
      args.add("--insecure");
    }
    args.addAll(databaseArgs);
    if (prefix.isEmpty() && !extraArgs.contains("--layer-cache")) {
      // The build's farms share base layers and Debian packages, so only the first composition
      // of a test run composes a base and downloads its packages. A controller run as another
      // account composes in its own data directory, as a farm without this option does.
      args.addAll(List.of("--layer-cache", sharedLayerCache().toString()));
    }
    args.addAll(extraArgs);
    controller = FarmProcess.start("controller", FarmJars.controller(), dir.resolve("logs"),
        args, env, prefix);
    // A first start writes the bootstrap admin token before it serves; a restart keeps it.
    awaitTrue("the admin token in " + adminTokenFile(), Duration.ofSeconds(90),
        () -> Files.exists(adminTokenFile()));
    awaitTrue("the controller serves on " + target(), Duration.ofSeconds(90), () -> {
      try {
        client().listHosts();
        return true;
      } catch (RuntimeException notYet) {
        return false;
      }
    });
  }

  /** The running controller's process id, for benchmarks that read its CPU time and memory. */
  public long controllerPid() {
    return controller.pid();
  }

  /** Where the controller wrote its bootstrap admin token. */
  public Path adminTokenFile() {
    return dir.resolve("controller").resolve("admin.token");
  }

  public void stopController() throws InterruptedException {
    controller.stop();
  }

  public void killController() throws InterruptedException {
    controller.kill();
  }

  /** Waits until the controller ends by itself (e.g. halted at a failpoint); false if it lives. */
  public boolean awaitControllerExit(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (controller.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    return !controller.isAlive();
  }

  public void startAgent(String hostId) throws IOException {
    startAgent(hostId, List.of(), List.of());
  }

  /**
   * @param prefix a command the agent runs under, e.g. {@code ip netns exec NAME}
   * @param extraArgs added to the agent's flags (--insecure is added for a non-loopback
   *     controller)
   */
  public void startAgent(String hostId, List<String> prefix, List<String> extraArgs) throws IOException {
    // Each simulated host forwards from its own port range: they all share this machine's ports.
    int first = 20000 + 500 * (Math.abs(hostId.hashCode()) % 20);
    // And each serves its metrics on a port of its own (the default one would collide).
    int httpPort = freePort();
    agentHttpPorts.put(hostId, httpPort);
    List<String> args = new java.util.ArrayList<>(
        List.of("--controller", target(), "--host-id", hostId, "--libvirt-uri", libvirtUri,
            "--state-dir", dir.resolve("agent-" + hostId).toString(),
            "--capacity-vcpus", "8", "--capacity-memory-mb", "8192",
            "--port-range", first + "-" + (first + 499),
            "--metrics-listen", "127.0.0.1:" + httpPort));
    if (!listenHost.startsWith("127.")) {
      args.add("--insecure");
    }
    // Without a client certificate, the image store serves an agent only with an admin token.
    if (Files.exists(adminTokenFile()) && !extraArgs.contains("--tls-cert")
        && !extraArgs.contains("--token-file")) {
      args.addAll(List.of("--token-file", adminTokenFile().toString()));
    }
    args.addAll(extraArgs);
    agents.put(hostId, FarmProcess.start("agent-" + hostId, FarmJars.agent(), dir.resolve("logs"),
        args, Map.of(), prefix));
  }

  public void stopAgent(String hostId) throws InterruptedException {
    agents.remove(hostId).stop();
  }

  /** SIGKILL: the agent gets no chance to finish what it does; its domains stay in libvirt. */
  public void killAgent(String hostId) throws InterruptedException {
    agents.remove(hostId).kill();
  }

  /** Waits until every named host is connected to the controller. */
  public void awaitConnected(List<String> hostIds) {
    awaitTrue("hosts " + hostIds + " connected", Duration.ofSeconds(60), () -> {
      List<Host> hosts = client().listHosts();
      return hostIds.stream().allMatch(id ->
          hosts.stream().anyMatch(h -> h.getId().equals(id) && h.getConnected()));
    });
  }

  public FarmClient client() {
    return client != null ? client : client(Duration.ofSeconds(90));
  }

  /**
   * The farm's client; requests wait up to requestDeadline (a first build takes minutes). Asking
   * for a longer deadline than the client has replaces it: starting the controller made one with
   * the default, and a test's first request would otherwise end after 90 s on a slow machine.
   */
  public FarmClient client(Duration requestDeadline) {
    if (client != null && requestDeadline.compareTo(clientRequestDeadline) > 0) {
      client.close();
      client = null;
    }
    if (client == null) {
      clientRequestDeadline = requestDeadline;
      // The farm's controller serves plaintext, also on a non-loopback listenOn address.
      client = FarmClient.connect(FarmClientOptions.builder().target(target()).plaintext(true)
          .bearerToken(readAdminToken())
          .callDeadline(Duration.ofSeconds(90)).requestServiceDeadline(requestDeadline).build());
    }
    return client;
  }

  private String readAdminToken() {
    try {
      return Files.readString(adminTokenFile()).strip();
    } catch (IOException e) {
      throw new AssertionError("cannot read the admin token in " + adminTokenFile(), e);
    }
  }

  /** Polls until the condition holds; fails with the processes' logs when it never does. */
  public void awaitTrue(String what, Duration timeout, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (controller != null && !controller.isAlive()) {
        throw new AssertionError("the controller exited while waiting for " + what
            + "\n--- controller log ---\n" + controller.logTail());
      }
      if (condition.getAsBoolean()) {
        return;
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting for " + what, e);
      }
    }
    throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting for " + what
        + "\n--- controller log ---\n" + (controller == null ? "" : controller.logTail()));
  }

  public String logs() {
    StringBuilder out = new StringBuilder();
    if (controller != null) {
      out.append("--- controller ---\n").append(controller.logTail()).append('\n');
    }
    agents.values().forEach(a -> out.append("--- ").append(a.name()).append(" ---\n")
        .append(a.logTail()).append('\n'));
    return out.toString();
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() {
    List<String> vmIds = List.of();
    if (client != null && controller != null && controller.isAlive()) {
      try {
        vmIds = client.listVms().stream().map(org.servicefarm.api.v1.Vm::getId).toList();
      } catch (RuntimeException e) {
        System.err.println("cannot list the farm's VMs for clean-up: " + e.getMessage());
      }
      client.close();
    }
    for (FarmProcess agent : agents.values()) {
      agent.close();
    }
    if (controller != null) {
      controller.close();
    }
    if (libvirtUri.startsWith("qemu")) {
      FarmLeftovers.removeDomains(libvirtUri, vmIds);
    }
    FarmLeftovers.keepLogs(dir);
    FarmLeftovers.deleteTree(dir);
  }
}
