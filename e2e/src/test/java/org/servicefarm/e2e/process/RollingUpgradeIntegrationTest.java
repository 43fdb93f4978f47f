package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;
import org.servicefarm.client.FarmException;
import org.servicefarm.controller.db.embedded.EmbeddedPostgres;
import org.servicefarm.e2e.support.FarmLeftovers;
import org.servicefarm.e2e.support.AttemptCounter;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.FarmJars;
import org.servicefarm.e2e.support.FarmProcess;
import org.servicefarm.e2e.support.PreviousRelease;

/**
 * A rolling upgrade from the previous release (dist/previous-release, built from the
 * repository's history) to this build: two controllers of the previous release on one PostgreSQL
 * and an agent of the previous release, then each controller in turn stopped and started from
 * this build (the first one's Flyway step runs while the other old controller leads), then the
 * agent, with clients requesting services through both controllers all along.
 *
 * <p>The agent runs libvirt's test driver, whose simulated domains live in the agent process: the
 * new agent registers with none, and the farm installs each VM again under its id. So the agent
 * step shows the farm keeps every VM and serves every service across it; that real guests outlive
 * an agent restart is shown with real QEMU by AgentCrashIntegrationTest.
 */
class RollingUpgradeIntegrationTest {
  private static final int SERVICES = 6;
  private static final String HOST = "upgrade-1";

  private final List<AutoCloseable> toClose = new ArrayList<>();
  private Path dir;
  private EmbeddedPostgres postgres;

  @AfterEach
  void stopEverything() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
    if (postgres != null) {
      postgres.close();
    }
    if (dir != null) {
      FarmLeftovers.deleteTree(dir);
    }
  }

  @Test
  void controllersThenAgentUpgradedOneAtATimeUnderLoadLoseNoVmAndFailNoRequest()
      throws Exception {
    PreviousRelease previous = PreviousRelease.build();
    dir = Files.createTempDirectory("servicefarm-upgrade");
    Files.setPosixFilePermissions(dir,
        java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(Files.createDirectories(dir.resolve("db")),
        java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    // Over TCP with a password: the previous release reaches PostgreSQL only so.
    postgres = EmbeddedPostgres.start(dir.resolve("db").resolve("pgdata"), 0, true);
    String a = "127.0.0.1:" + freePort();
    String b = "127.0.0.1:" + freePort();
    FarmProcess oldA = controller("controller-a-old", previous.controller(), a, "a");
    Await.until("the admin token written", Duration.ofSeconds(90), () -> {
      if (!oldA.isAlive()) {
        throw new AssertionError("the previous release's controller exited:\n" + oldA.logTail());
      }
      return Files.exists(dir.resolve("a").resolve("admin.token"));
    });
    String token = Files.readString(dir.resolve("a").resolve("admin.token")).strip();
    FarmProcess oldB = controller("controller-b-old", previous.controller(), b, "b");
    FarmProcess agent = agent("agent-old", previous.agent(), a + "," + b);

    AttemptCounter attempts = new AttemptCounter();
    FarmClient viaA = client(a, token, attempts);
    FarmClient viaB = client(b, token, attempts);
    awaitServing(viaA);
    awaitServing(viaB);
    Await.until("the old agent connected", Duration.ofSeconds(60),
        () -> connected(viaA).contains(HOST));
    for (int i = 0; i < SERVICES; i++) {
      viaA.defineService(ServiceDefinition.newBuilder().setName("up-svc-" + i)
          .addPackages("busybox").setPort(80).setVcpus(1).setMemoryMb(64).build());
    }
    for (int i = 0; i < SERVICES; i++) {
      viaB.requestService("up-svc-" + i);
    }
    Map<String, List<String>> vmsBefore = vmIdsByService(viaA);

    Load load = new Load(List.of(viaA, viaB));
    load.start();
    Map<String, Double> steps = new LinkedHashMap<>();
    Thread.sleep(2000);

    // 1. The follower first: the new build migrates the schema while the old leader serves.
    long t = System.nanoTime();
    oldB.stop();
    controller("controller-b-new", FarmJars.controller(), b, "b");
    awaitServing(viaB);
    steps.put("controller B (follower) replaced, schema migrated", seconds(t));
    assertEquals(newestMigration(), appliedSchemaVersion(),
        "the new controller migrated the schema");
    assertTrue(leaderHolder().contains(":" + oldA.pid() + ":"),
        "the previous release's controller still leads on the migrated schema: "
            + leaderHolder());
    Thread.sleep(2000);

    // 2. The old leader: the new B takes over, then A comes back on the new build.
    t = System.nanoTime();
    oldA.stop();
    controller("controller-a-new", FarmJars.controller(), a, "a");
    awaitServing(viaA);
    Await.until("the old agent reconnected", Duration.ofSeconds(60),
        () -> connected(viaA).contains(HOST));
    steps.put("controller A (leader) replaced", seconds(t));
    Thread.sleep(2000);

    // 3. The agent last.
    t = System.nanoTime();
    agent.stop();
    agent("agent-new", FarmJars.agent(), a + "," + b);
    Await.until("the new agent connected", Duration.ofSeconds(60),
        () -> connected(viaA).contains(HOST));
    Await.until("every VM active again", Duration.ofSeconds(120),
        () -> viaA.listVms().stream().allMatch(vm -> vm.getState() == VmState.VM_STATE_ACTIVE));
    steps.put("agent replaced", seconds(t));
    int beforeEnd = load.succeeded.get();
    Thread.sleep(3000);
    load.stop();

    assertEquals(List.of(), load.failures, "requests failed despite the SDK's retries");
    assertEquals(List.of(), attempts.otherFailures(),
        "attempts the farm answered with a failure (not a transport cut)");
    assertTrue(load.succeeded.get() > beforeEnd, "requests succeed after the upgrade");
    assertEquals(vmsBefore, vmIdsByService(viaB),
        "every service keeps its VMs across the upgrade: none lost, none added");
    for (int i = 0; i < SERVICES; i++) {
      assertTrue(!viaB.requestService("up-svc-" + i).endpoint().isEmpty(),
          "up-svc-" + i + " is served after the upgrade");
    }

    System.out.printf("rolling upgrade from %s: previous release built in %s; requests=%d,"
            + " failed=%d, attempts cut by a stopping controller and retried=%d, VMs lost: 0%n",
        previous.commit().substring(0, 12), previous.buildSeconds() < 0 ? "an earlier run (cached)"
            : String.format("%.0f s", previous.buildSeconds()), load.succeeded.get(),
        load.failures.size(), attempts.transportCuts());
    steps.forEach((step, secs) -> System.out.printf("  %-50s %.1f s%n", step, secs));
  }

  /** Requests for the services from one thread per client, round and round, until stopped. */
  private static final class Load {
    final List<FarmClient> clients;
    final AtomicBoolean running = new AtomicBoolean(true);
    final AtomicInteger succeeded = new AtomicInteger();
    final List<String> failures = new CopyOnWriteArrayList<>();
    final List<Thread> threads = new ArrayList<>();

    Load(List<FarmClient> clients) {
      this.clients = clients;
    }

    void start() {
      for (int c = 0; c < clients.size(); c++) {
        FarmClient client = clients.get(c);
        int offset = c;
        Thread thread = new Thread(() -> {
          for (int i = offset; running.get(); i++) {
            String service = "up-svc-" + (i % SERVICES);
            try {
              client.requestService(service, UUID.randomUUID().toString());
              succeeded.incrementAndGet();
              Thread.sleep(20);
            } catch (FarmException e) {
              failures.add(service + ": " + e.getMessage());
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              return;
            }
          }
        }, "upgrade-load-" + c);
        thread.start();
        threads.add(thread);
      }
    }

    void stop() throws InterruptedException {
      running.set(false);
      for (Thread t : threads) {
        t.join(120_000);
      }
    }
  }

  private FarmProcess controller(String name, Path jar, String listen, String data)
      throws IOException {
    FarmProcess p = FarmProcess.start(name, jar, dir.resolve("logs"),
        List.of("--listen", listen, "--advertise", listen, "--data-dir",
            dir.resolve(data).toString(), "--database-url",
            postgres.tcpJdbcUrl(EmbeddedPostgres.DATABASE), "--database-user", postgres.user(),
            "--liveness-timeout", "6", "--http-listen", "127.0.0.1:0"),
        Map.of("SERVICEFARM_DB_PASSWORD", postgres.password()), List.of());
    toClose.add(p);
    return p;
  }

  private FarmProcess agent(String name, Path jar, String controllers) throws IOException {
    FarmProcess p = FarmProcess.start(name, jar, dir.resolve("logs"),
        List.of("--controller", controllers, "--host-id", HOST, "--libvirt-uri",
            "test:///default", "--state-dir", dir.resolve("agent").toString(),
            "--capacity-vcpus", "16", "--capacity-memory-mb", "8192",
            "--port-range", "23000-23499", "--metrics-listen", "127.0.0.1:0"));
    toClose.add(p);
    return p;
  }

  private FarmClient client(String target, String token, AttemptCounter attempts) {
    ManagedChannel channel = NettyChannelBuilder.forTarget(target).usePlaintext()
        .intercept(attempts).build();
    toClose.add(channel::shutdownNow);
    FarmClient client = new FarmClient(channel, FarmClientOptions.builder().bearerToken(token)
        .maxAttempts(200).initialBackoff(Duration.ofMillis(100))
        .maxBackoff(Duration.ofMillis(500)).callDeadline(Duration.ofSeconds(60))
        .requestServiceDeadline(Duration.ofSeconds(90)).build());
    toClose.add(client);
    return client;
  }

  private static Map<String, List<String>> vmIdsByService(FarmClient client) {
    return client.listVms().stream().collect(Collectors.groupingBy(vm -> vm.getServices(0),
        java.util.TreeMap::new, Collectors.mapping(Vm::getId,
            Collectors.collectingAndThen(Collectors.toList(), ids -> ids.stream().sorted()
                .toList()))));
  }

  /** The highest migration this build holds, e.g. "10". */
  private static String newestMigration() throws IOException {
    try (var files = Files.list(FarmJars.root().resolve("db/src/main/resources/db/migration"))) {
      return String.valueOf(files.map(f -> f.getFileName().toString())
          .filter(n -> n.matches("V\\d+__.*\\.sql"))
          .mapToInt(n -> Integer.parseInt(n.substring(1, n.indexOf("__")))).max().orElseThrow());
    }
  }

  private String appliedSchemaVersion() throws Exception {
    return query("SELECT max(version::int)::text FROM flyway_schema_history WHERE success");
  }

  /** controller_leadership.holder, e.g. "host:PID:…"; which process leads is not in the API. */
  private String leaderHolder() throws Exception {
    return query("SELECT holder FROM controller_leadership WHERE id = 1");
  }

  private String query(String sql) throws Exception {
    try (Connection c = DriverManager.getConnection(
            postgres.tcpJdbcUrl(EmbeddedPostgres.DATABASE), postgres.user(), postgres.password());
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      return rs.next() ? rs.getString(1) : "";
    }
  }

  private static List<String> connected(FarmClient client) {
    return client.listHosts().stream().filter(Host::getConnected).map(Host::getId).toList();
  }

  private static void awaitServing(FarmClient client) {
    Await.until("the controller answers", Duration.ofSeconds(120), () -> {
      try {
        client.listHosts();
        return true;
      } catch (FarmException notYet) {
        return false;
      }
    });
  }

  private static double seconds(long sinceNanos) {
    return (System.nanoTime() - sinceNanos) / 1e9;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
