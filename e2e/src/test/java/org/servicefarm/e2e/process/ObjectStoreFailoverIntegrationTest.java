package org.servicefarm.e2e.process;

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
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.FarmTimeoutException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.FarmLeftovers;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.FarmJars;
import org.servicefarm.e2e.support.FarmProcess;
import org.servicefarm.e2e.support.ObjectStoreServer;
import org.servicefarm.e2e.support.RealGuestTest;
import org.servicefarm.e2e.support.RealGuests;
import org.servicefarm.e2e.support.StandalonePostgres;

/**
 * Two controller processes share one PostgreSQL and one S3-compatible object store (S3Proxy
 * started by the test). The leader archives a VM into the bucket and is SIGKILLed, its data
 * directory wiped as if its disk had died; the other controller takes over and restores the VM
 * on another host from the bucket: once with agents on libvirt's test driver (simulated guests,
 * whose archives are still real blobs that travel through the controllers and the bucket), once
 * with a real QEMU guest, whose image and archived disk the new leader serves from the bucket.
 */
@RealGuestTest
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
    if ("qemu:///system".equals(libvirtUri)) {
      removeDomains();
    }
    if (objectStore != null) {
      objectStore.close();
    }
    if (postgres != null) {
      postgres.close();
    }
    if (dir != null) {
      keepLogs();
      FarmLeftovers.deleteTree(dir);
    }
  }

  // The farm's directory goes with it; its logs stay in target/ to read after a failed run.
  private void keepLogs() throws IOException {
    Path logs = dir.resolve("logs");
    if (!Files.isDirectory(logs)) {
      return;
    }
    Path kept = Files.createDirectories(Path.of("target", "object-store-logs", run));
    try (var files = Files.list(logs)) {
      for (Path log : files.toList()) {
        Files.copy(log, kept.resolve(log.getFileName()),
            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  @Test
  void aVmArchivedByAControllerWhoseDiskDiedIsRestoredByTheNextLeaderOnAnotherHost()
      throws Exception {
    Restored restored = archiveKillAndRestore("test:///default", ServiceDefinition.newBuilder()
        .setName(SERVICE).addPackages("busybox").setPort(80).setVcpus(1).setMemoryMb(128)
        .build(), Duration.ofSeconds(90));
    System.out.printf("object-store failover (simulated guests): %s%n", restored.figures());
  }

  @Test
  void aRealGuestArchivedByAControllerWhoseDiskDiedIsRestoredByTheNextLeaderOnAnotherHost()
      throws Exception {
    RealGuests.requireLibvirtd();
    Restored restored = archiveKillAndRestore("qemu:///system", ServiceDefinition.newBuilder()
        .setName(SERVICE).addPackages("busybox").setCommand("busybox httpd -f -p 80 -h /srv/www")
        .setPort(80).setVcpus(1).setMemoryMb(256).build(), Duration.ofMinutes(15));
    // The guest's page names its VM: the restored disk is the archived one, booted on os-2.
    assertTrue(RealGuests.httpGet(restored.endpoint(), Duration.ofSeconds(30))
        .contains(restored.vmId()), "the restored guest serves its page");
    System.out.printf("object-store failover (real guest): %s%n", restored.figures());
  }

  /** The VM restored by controller B, where it serves, and what the run measured. */
  private record Restored(String vmId, String endpoint, String figures) {}

  /**
   * Controller A archives a VM of {@code definition} into the bucket, dies with its data
   * directory and the VM's host; controller B restores the VM on another host.
   */
  private Restored archiveKillAndRestore(String libvirtUri, ServiceDefinition definition,
      Duration requestDeadline) throws Exception {
    this.libvirtUri = libvirtUri;
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
    // Plaintext agents reach the image store with an admin token; A's copy dies with A's disk.
    agentTokenFile = Files.writeString(dir.resolve("agent.token"), token);
    Files.setPosixFilePermissions(agentTokenFile, PosixFilePermissions.fromString("rw-------"));
    FarmProcess controllerB = controller("controller-b", b, dir.resolve("b"));
    String first = hostId("os-1");
    String second = hostId("os-2");
    agent(first, a + "," + b, 22000);
    FarmClient viaA = client(a, token, requestDeadline);
    Await.until(first + " connected", Duration.ofSeconds(90),
        () -> connected(viaA).contains(first));

    viaA.defineService(definition);
    long started = System.nanoTime();
    String vmId = patientRequest(viaA, "provision", requestDeadline).vmId();
    vmIds.add(vmId);
    double provisionSeconds = (System.nanoTime() - started) / 1e9;
    assertEquals(first, viaA.getVm(vmId).getHostId());
    started = System.nanoTime();
    // The request's lease is still live: the archive is forced, as an operator would.
    Vm archived = viaA.archiveVm(vmId, true);
    double archiveSeconds = (System.nanoTime() - started) / 1e9;
    assertEquals(VmState.VM_STATE_ARCHIVED, archived.getState());
    String archiveRef = archiveRef(vmId);
    assertTrue(archiveRef.startsWith("sha256:"), archiveRef);
    String digest = archiveRef.substring("sha256:".length());
    assertTrue(objectStore.keys().contains("farm-a/" + digest),
        "the archive is an object in the bucket: " + objectStore.keys());

    // The leader dies with its disk: nothing of its data directory survives.
    controllerA.kill();
    FarmLeftovers.deleteTree(dir.resolve("a"));
    assertFalse(Files.exists(dir.resolve("a")));
    // The VM's old host goes too, so the archive must travel to another one.
    agents.get(0).kill();
    agent(second, a + "," + b, 22500);

    FarmClient viaB = client(b, token, requestDeadline);
    Await.until("controller B leads and " + second + " connected", Duration.ofSeconds(90),
        () -> answers(viaB) && connected(viaB).equals(List.of(second)));
    started = System.nanoTime();
    String endpoint = patientRequest(viaB, "restore", requestDeadline).endpoint();
    double restoreSeconds = (System.nanoTime() - started) / 1e9;

    Vm restored = viaB.getVm(vmId);
    assertEquals(VmState.VM_STATE_ACTIVE, restored.getState(), "the same VM, restored");
    assertEquals(second, restored.getHostId(), "on the host that survived");
    assertFalse(endpoint.isEmpty());
    assertEquals(1, viaB.listVms().size(), "restored, not built anew");
    Path fetched = dir.resolve("b").resolve("blob-cache").resolve(digest);
    assertTrue(Files.exists(fetched),
        "controller B fetched the archive from the bucket and checked it");
    assertTrue(controllerB.isAlive());
    return new Restored(vmId, endpoint, String.format("provisioned in %.1f s, archived by"
            + " controller A in %.1f s (archive %s, %d bytes, %d objects in the bucket), A"
            + " killed and its data directory deleted, restored by controller B on %s in %.1f s",
        provisionSeconds, archiveSeconds, digest.substring(0, 12), Files.size(fetched),
        objectStore.keys().size(), second, restoreSeconds));
  }

  private final List<FarmProcess> agents = new ArrayList<>();
  private final List<String> vmIds = new ArrayList<>();
  private String libvirtUri;
  private Path agentTokenFile;
  // Host ids of their own, so domains of other farms sharing libvirtd are not counted.
  private final String run = UUID.randomUUID().toString().substring(0, 6);

  private String hostId(String name) {
    return name + "-" + run;
  }

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
            libvirtUri, "--state-dir", dir.resolve("agent-" + hostId).toString(),
            "--capacity-vcpus", "8", "--capacity-memory-mb", "8192",
            "--port-range", firstPort + "-" + (firstPort + 499),
            "--metrics-listen", "127.0.0.1:0", "--token-file", agentTokenFile.toString()),
        Map.of(), List.of());
    toClose.add(p);
    agents.add(p);
  }

  private FarmClient client(String target, String token, Duration requestDeadline) {
    FarmClient client = FarmClient.connect(FarmClientOptions.builder().target(target)
        .bearerToken(token).callDeadline(Duration.ofSeconds(60))
        .requestServiceDeadline(requestDeadline).maxAttempts(40)
        .initialBackoff(Duration.ofMillis(200)).maxBackoff(Duration.ofSeconds(1)).build());
    toClose.add(client);
    return client;
  }

  /**
   * A request that may outlast the controller's wait for a VM (composing an image and booting it
   * under TCG on a busy machine): asked again with the same idempotency key, it joins the first.
   */
  private static ServiceAccess patientRequest(FarmClient client, String key, Duration patience) {
    long deadline = System.nanoTime() + patience.toNanos();
    while (true) {
      try {
        return client.requestService(SERVICE, key);
      } catch (FarmTimeoutException notYet) {
        if (System.nanoTime() > deadline) {
          throw notYet;
        }
      }
    }
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
      s.setObject(1, UUID.fromString(vmId));
      try (ResultSet rs = s.executeQuery()) {
        return rs.next() ? rs.getString(1) : "";
      }
    }
  }

  // Guests of a real hypervisor outlive the farm's processes; a test leaves none behind.
  private void removeDomains() throws IOException, InterruptedException {
    for (String id : vmIds) {
      RealGuests.run("virsh", "-q", "-c", libvirtUri, "destroy", "sf-" + id);
      RealGuests.run("virsh", "-q", "-c", libvirtUri, "undefine", "--managed-save", "sf-" + id);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
