package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
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
import org.servicefarm.e2e.support.FarmLeftovers;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.FarmJars;
import org.servicefarm.e2e.support.FarmProcess;
import org.servicefarm.e2e.support.StandalonePostgres;

/**
 * Two controller processes on one PostgreSQL, two agents that know both: the leader is SIGKILLed
 * while clients keep requesting services through the other, which takes over.
 */
class HighAvailabilityIntegrationTest {
  private static final int SERVICES = 8;

  private final List<AutoCloseable> toClose = new ArrayList<>();
  private Path dir;
  private StandalonePostgres postgres;

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
  void whenTheLeaderIsKilledTheOtherControllerTakesOverAndRequestsKeepSucceeding()
      throws Exception {
    dir = Files.createTempDirectory("servicefarm-ha");
    Files.setPosixFilePermissions(dir,
        java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    postgres = new StandalonePostgres(dir.resolve("db"));
    String a = "127.0.0.1:" + freePort();
    String b = "127.0.0.1:" + freePort();
    FarmProcess controllerA = controller("controller-a", a);
    awaitFile(dir.resolve("a").resolve("admin.token"));
    // B finds A's admin token live in the shared database and writes none of its own.
    String token = Files.readString(dir.resolve("a").resolve("admin.token")).strip();
    FarmProcess controllerB = controller("controller-b", b);
    agent("ha-1", a + "," + b, 21000);
    agent("ha-2", a + "," + b, 21500);

    // Every client call goes to B, the follower, which forwards it to the leader A.
    FarmClient viaB = client(b, token);
    awaitServing(viaB);
    assertEquals(controllerA.pid(), leaderPid(), "the first controller leads");
    Await.until("both hosts connected (asked through the follower)", Duration.ofSeconds(60),
        () -> connected(viaB).containsAll(List.of("ha-1", "ha-2")));
    for (int i = 0; i < SERVICES; i++) {
      viaB.defineService(ServiceDefinition.newBuilder().setName("ha-svc-" + i)
          .addPackages("busybox").setPort(80).setVcpus(1).setMemoryMb(128).build());
    }
    viaB.requestService("ha-svc-0");

    Load load = new Load(viaB);
    load.start(2);
    Thread.sleep(3000);
    long killedAt = System.nanoTime();
    controllerA.kill();
    Await.until("controller B leads", Duration.ofSeconds(20),
        () -> leaderPid() == controllerB.pid());
    double takeover = seconds(killedAt);
    Await.until("both agents reconnected to B", Duration.ofSeconds(30),
        () -> connected(viaB).containsAll(List.of("ha-1", "ha-2")));
    double agentsBack = seconds(killedAt);
    int beforeTakeover = load.succeeded.get();
    Thread.sleep(5000);
    load.stop();

    assertEquals(0, load.failures.size(), () -> load.failures.size() + " requests failed, e.g. "
        + load.failures.subList(0, Math.min(3, load.failures.size())));
    assertTrue(load.succeeded.get() > beforeTakeover, "requests succeeded after the takeover");
    assertEquals(2, leaderEpoch(), "one takeover, one epoch bump");
    Map<String, List<Vm>> byService = viaB.listVms().stream()
        .collect(Collectors.groupingBy(vm -> vm.getServices(0)));
    for (String service : load.served.keySet()) {
      List<Vm> vms = byService.getOrDefault(service, List.of());
      assertEquals(1, vms.size(), "one VM for " + service + ": " + vms);
      assertEquals(VmState.VM_STATE_ACTIVE, vms.get(0).getState(), service + " is ACTIVE");
    }

    // The old leader comes back as a follower and forwards to the new one.
    FarmProcess controllerA2 = controller("controller-a-restarted", a);
    FarmClient viaA = client(a, token);
    awaitServing(viaA);
    assertEquals(controllerB.pid(), leaderPid(), "B still leads after A returns");
    String endpoint = viaA.requestService("ha-svc-1").endpoint();
    assertTrue(!endpoint.isEmpty(), "a request through the restarted follower is served");
    assertTrue(controllerA2.isAlive());

    System.out.printf("leader failover: requests=%d, failed=%d, leader killed under load,"
            + " new leader after %.1f s, agents reconnected after %.1f s, services=%d,"
            + " VMs lost: 0, duplicated: 0%n", load.succeeded.get(), load.failures.size(),
        takeover, agentsBack, load.served.size());
  }

  /** Requests for the services, round and round, from client threads, until stopped. */
  private static final class Load {
    final FarmClient client;
    final AtomicBoolean running = new AtomicBoolean(true);
    final AtomicInteger succeeded = new AtomicInteger();
    final List<String> failures = new CopyOnWriteArrayList<>();
    final Map<String, String> served = new ConcurrentHashMap<>();
    final List<Thread> threads = new ArrayList<>();

    Load(FarmClient client) {
      this.client = client;
    }

    void start(int clients) {
      for (int t = 0; t < clients; t++) {
        int offset = t;
        Thread thread = new Thread(() -> {
          for (int i = offset; running.get(); i++) {
            String service = "ha-svc-" + (i % SERVICES);
            try {
              served.put(service, client.requestService(service, UUID.randomUUID().toString())
                  .endpoint());
              succeeded.incrementAndGet();
              // Paced well below the controllers' default limit of 200 requests/s per token.
              Thread.sleep(20);
            } catch (FarmException e) {
              failures.add(service + ": " + e.getMessage());
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              return;
            }
          }
        }, "ha-load-" + t);
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

  private FarmProcess controller(String name, String listen) throws IOException {
    String data = name.startsWith("controller-a") ? "a" : "b";
    FarmProcess p = FarmProcess.start(name, FarmJars.controller(), dir.resolve("logs"),
        List.of("--listen", listen, "--advertise", listen, "--data-dir",
            dir.resolve(data).toString(), "--database-url", postgres.jdbcUrl(),
            "--database-user", postgres.user(), "--liveness-timeout", "6",
            "--http-listen", "127.0.0.1:0"));
    toClose.add(p);
    return p;
  }

  private void agent(String hostId, String controllers, int firstPort) throws IOException {
    toClose.add(FarmProcess.start("agent-" + hostId, FarmJars.agent(), dir.resolve("logs"),
        List.of("--controller", controllers, "--host-id", hostId, "--libvirt-uri",
            "test:///default", "--state-dir", dir.resolve("agent-" + hostId).toString(),
            "--capacity-vcpus", "8", "--capacity-memory-mb", "8192",
            "--port-range", firstPort + "-" + (firstPort + 499),
            "--metrics-listen", "127.0.0.1:0")));
  }

  private FarmClient client(String target, String token) {
    FarmClient client = FarmClient.connect(FarmClientOptions.builder().target(target)
        .bearerToken(token).callDeadline(Duration.ofSeconds(30))
        .requestServiceDeadline(Duration.ofSeconds(60)).maxAttempts(40)
        .initialBackoff(Duration.ofMillis(200)).maxBackoff(Duration.ofSeconds(1)).build());
    toClose.add(client);
    return client;
  }

  private static List<String> connected(FarmClient client) {
    return client.listHosts().stream().filter(Host::getConnected).map(Host::getId).toList();
  }

  private long leaderPid() {
    String holder = leadership("holder");
    String[] parts = holder.split(":");
    return parts.length < 2 ? -1 : Long.parseLong(parts[parts.length - 2]);
  }

  private long leaderEpoch() {
    return Long.parseLong(leadership("epoch"));
  }

  // Read straight from the table: which process leads is not part of the API.
  private String leadership(String column) {
    try (Connection c = DriverManager.getConnection(postgres.jdbcUrl(), postgres.user(), "");
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(
            "SELECT " + ("epoch".equals(column) ? "epoch" : "holder")
                + " FROM controller_leadership WHERE id = 1")) {
      return rs.next() ? rs.getString(1) : "";
    } catch (SQLException e) {
      throw new AssertionError("cannot read the leadership table", e);
    }
  }

  private static void awaitServing(FarmClient client) {
    Await.until("the controller answers", Duration.ofSeconds(90), () -> {
      try {
        client.listHosts();
        return true;
      } catch (FarmException notYet) {
        return false;
      }
    });
  }

  private static void awaitFile(Path file) {
    Await.until(file + " written", Duration.ofSeconds(90), () -> Files.exists(file));
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
