package org.servicefarm.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;
import org.servicefarm.client.FarmException;

/**
 * Two controller processes share one PostgreSQL and one S3-compatible object store (S3Proxy
 * started by the test). The leader archives a VM into the bucket and is SIGKILLed, its data
 * directory wiped as if its disk had died; the other controller takes over and restores the VM
 * on another host from the bucket. The agents run on libvirt's test driver, which simulates
 * guests but uploads and downloads a real archive blob through the controllers.
 */
class ObjectStoreFailoverIntegrationTest {
  private static final String SERVICE = "archived-web";

  private final List<AutoCloseable> toClose = new ArrayList<>();
  private Path dir;
  private StandalonePostgres postgres;
  private ObjectStoreServer objectStore;

  @AfterEach
  void stopEverything() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
    if (objectStore != null) {
      objectStore.close();
    }
    if (postgres != null) {
      postgres.close();
    }
    if (dir != null) {
      ProcessFarm.deleteTree(dir);
    }
  }

  @Test
  void aVmArchivedByAControllerWhoseDiskDiedIsRestoredByTheNextLeaderOnAnotherHost()
      throws Exception {
    dir = Files.createTempDirectory("servicefarm-objectstore");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    postgres = new StandalonePostgres(dir.resolve("db"));
    objectStore = new ObjectStoreServer(dir.resolve("s3"), "farm-blobs");
    String a = "127.0.0.1:" + freePort();
    String b = "127.0.0.1:" + freePort();
    FarmProcess controllerA = controller("controller-a", a, dir.resolve("a"));
    Path tokenFile = dir.resolve("a").resolve("admin.token");
    Await.until(tokenFile + " written", Duration.ofSeconds(90), () -> Files.exists(tokenFile));
    String token = Files.readString(tokenFile).strip();
    FarmProcess controllerB = controller("controller-b", b, dir.resolve("b"));
    agent("os-1", a + "," + b, 22000);
    FarmClient viaA = client(a, token);
    Await.until("os-1 connected", Duration.ofSeconds(90), () -> connected(viaA).contains("os-1"));

    viaA.defineService(ServiceDefinition.newBuilder().setName(SERVICE).addPackages("busybox")
        .setPort(80).setVcpus(1).setMemoryMb(128).build());
    String vmId = viaA.requestService(SERVICE).vmId();
    assertEquals("os-1", viaA.getVm(vmId).getHostId());
    Vm archived = viaA.archiveVm(vmId);
    assertEquals(VmState.VM_STATE_ARCHIVED, archived.getState());
    String archiveRef = archiveRef(vmId);
    assertTrue(archiveRef.startsWith("sha256:"), archiveRef);
    String digest = archiveRef.substring("sha256:".length());
    assertTrue(objectStore.keys().contains("farm-a/" + digest),
        "the archive is an object in the bucket: " + objectStore.keys());

    // The leader dies with its disk: nothing of its data directory survives.
    controllerA.kill();
    ProcessFarm.deleteTree(dir.resolve("a"));
    assertFalse(Files.exists(dir.resolve("a")));
    // The VM's old host goes too, so the archive must travel to another one.
    agents.get(0).kill();
    agent("os-2", a + "," + b, 22500);

    FarmClient viaB = client(b, token);
    Await.until("controller B leads and os-2 connected", Duration.ofSeconds(90),
        () -> answers(viaB) && connected(viaB).equals(List.of("os-2")));
    long restoreStarted = System.nanoTime();
    String endpoint = viaB.requestService(SERVICE).endpoint();
    double restoreSeconds = (System.nanoTime() - restoreStarted) / 1e9;

    Vm restored = viaB.getVm(vmId);
    assertEquals(VmState.VM_STATE_ACTIVE, restored.getState(), "the same VM, restored");
    assertEquals("os-2", restored.getHostId(), "on the host that survived");
    assertFalse(endpoint.isEmpty());
    assertEquals(1, viaB.listVms().size(), "restored, not built anew");
    assertTrue(Files.exists(dir.resolve("b").resolve("blob-cache").resolve(digest)),
        "controller B fetched the archive from the bucket and checked it");
    assertTrue(controllerB.isAlive());
    System.out.printf("object-store failover: archive %s (%d bytes in the bucket) archived by"
            + " controller A, A killed and its data directory deleted, restored by controller B"
            + " on os-2 in %.1f s%n", digest.substring(0, 12),
        Files.size(dir.resolve("b").resolve("blob-cache").resolve(digest)), restoreSeconds);
  }

  private final List<FarmProcess> agents = new ArrayList<>();

  private FarmProcess controller(String name, String listen, Path dataDir) throws IOException {
    List<String> args = new ArrayList<>(List.of("--listen", listen, "--advertise", listen,
        "--data-dir", dataDir.toString(), "--database-url", postgres.jdbcUrl(),
        "--database-user", postgres.user(), "--liveness-timeout", "6",
        "--http-listen", "127.0.0.1:0"));
    // Both controllers name the same place: s3://farm-blobs/farm-a.
    args.addAll(objectStore.controllerArgs("farm-a"));
    FarmProcess p = FarmProcess.start(name, FarmJars.controller(), dir.resolve("logs"), args,
        objectStore.controllerEnv(), List.of());
    toClose.add(p);
    return p;
  }

  private void agent(String hostId, String controllers, int firstPort) throws IOException {
    FarmProcess p = FarmProcess.start("agent-" + hostId, FarmJars.agent(), dir.resolve("logs"),
        List.of("--controller", controllers, "--host-id", hostId, "--libvirt-uri",
            "test:///default", "--state-dir", dir.resolve("agent-" + hostId).toString(),
            "--capacity-vcpus", "8", "--capacity-memory-mb", "8192",
            "--port-range", firstPort + "-" + (firstPort + 499),
            "--metrics-listen", "127.0.0.1:0"), Map.of(), List.of());
    toClose.add(p);
    agents.add(p);
  }

  private FarmClient client(String target, String token) {
    FarmClient client = FarmClient.connect(FarmClientOptions.builder().target(target)
        .bearerToken(token).callDeadline(Duration.ofSeconds(30))
        .requestServiceDeadline(Duration.ofSeconds(90)).maxAttempts(40)
        .initialBackoff(Duration.ofMillis(200)).maxBackoff(Duration.ofSeconds(1)).build());
    toClose.add(client);
    return client;
  }

  private static boolean answers(FarmClient client) {
    try {
      client.listHosts();
      return true;
    } catch (FarmException notYet) {
      return false;
    }
  }

  private static List<String> connected(FarmClient client) {
    return client.listHosts().stream().filter(Host::getConnected).map(Host::getId).toList();
  }

  // Read from the table: the archive's reference is not part of the API.
  private String archiveRef(String vmId) throws SQLException {
    try (Connection c = DriverManager.getConnection(postgres.jdbcUrl(), postgres.user(), "");
        PreparedStatement s = c.prepareStatement("SELECT archive_ref FROM vms WHERE id = ?")) {
      s.setObject(1, java.util.UUID.fromString(vmId));
      try (ResultSet rs = s.executeQuery()) {
        return rs.next() ? rs.getString(1) : "";
      }
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
