package org.servicefarm.e2e.support;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.servicefarm.agent.hypervisor.HypervisorKind;
import org.servicefarm.agent.hypervisor.libvirt.HostPortAllocator;
import org.servicefarm.agent.hypervisor.libvirt.HostSettings;
import org.servicefarm.agent.hypervisor.libvirt.LibvirtConnection;
import org.servicefarm.agent.hypervisor.libvirt.LibvirtHypervisor;
import org.servicefarm.agent.hypervisor.storage.VmArchives;
import org.servicefarm.agent.images.BlobTransfers;
import org.servicefarm.agent.images.ImageStoreClient;
import org.servicefarm.agent.link.ChannelOpener;
import org.servicefarm.agent.link.FailoverChannel;
import org.servicefarm.agent.hypervisor.storage.DiskStore;
import org.servicefarm.agent.hypervisor.storage.PathOnlyDiskStore;
import org.servicefarm.agent.hypervisor.storage.QemuDiskStore;
import org.servicefarm.agent.hypervisor.storage.QemuImg;
import org.servicefarm.agent.images.ImageCache;
import org.servicefarm.agent.link.ControllerLink;
import org.servicefarm.agent.link.LinkSettings;
import org.servicefarm.agent.load.HostLoadProbe;
import org.servicefarm.api.v1.HostCapacity;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;
import org.servicefarm.controller.Controller;
import org.servicefarm.controller.ControllerConfig;
import org.servicefarm.controller.auth.AdminTokenBootstrap;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgres;

/**
 * A farm inside one JVM for integration tests: a real PostgreSQL, the controller on an in-process
 * gRPC server, and agents whose libvirt test-driver connections each simulate one host (a
 * {@code test:///file} connection has private state, unlike {@code test:///default}).
 */
public final class InProcessFarm implements AutoCloseable {
  private final Path dir;
  private final EmbeddedPostgres postgres;
  private final Database db;
  private final Controller controller;
  private final Server server;
  private final String serverName = "farm-" + UUID.randomUUID();
  private final Map<String, SimulatedHost> hosts = new LinkedHashMap<>();
  private final FarmClient client;
  private final List<ManagedChannel> channels = new java.util.concurrent.CopyOnWriteArrayList<>();

  /** One agent and its libvirt connection, which outlives agent restarts like a real host's. */
  public static final class SimulatedHost {
    public final LibvirtHypervisor hypervisor;
    final LinkSettings settings;
    final HostLoadProbe load;
    ControllerLink link;

    SimulatedHost(LibvirtHypervisor hypervisor, LinkSettings settings, HostLoadProbe load) {
      this.hypervisor = hypervisor;
      this.settings = settings;
      this.load = load;
    }
  }

  public InProcessFarm(ControllerConfig config) throws IOException {
    dir = Files.createTempDirectory("servicefarm-it");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    postgres = EmbeddedPostgres.start(dir.resolve("pgdata"), 0);
    db = new Database(postgres.jdbcUrl(), postgres.user(), "", 16);
    Migrations.migrate(db.dataSource());
    controller = new Controller(db, config, dir.resolve("controller"));
    server = controller.serve(InProcessServerBuilder.forName(serverName));
    // The controller's own bootstrap writes the admin token, as at a real start; agents need none.
    AdminTokenBootstrap.ensureAdmin(controller.tokens(), controllerDir());
    client = clientWithToken(Files.readString(adminTokenFile()).strip());
  }

  /** A client of this farm that sends the token (none when null); the caller closes it. */
  public FarmClient clientWithToken(String token) {
    ManagedChannel channel = InProcessChannelBuilder.forName(serverName).build();
    channels.add(channel);
    return new FarmClient(channel, FarmClientOptions.builder().callDeadline(Duration.ofSeconds(30))
            .requestServiceDeadline(Duration.ofSeconds(30)).bearerToken(token).build());
  }

  /** A client that sends the token and names a project in the "servicefarm-project" header. */
  public FarmClient clientInProject(String token, String project) {
    ManagedChannel channel = InProcessChannelBuilder.forName(serverName).build();
    channels.add(channel);
    return new FarmClient(channel, FarmClientOptions.builder().callDeadline(Duration.ofSeconds(30))
            .requestServiceDeadline(Duration.ofSeconds(30)).bearerToken(token).project(project)
            .build());
  }

  /** A plain channel to the controller (health checks, raw stubs); the farm closes it. */
  public ManagedChannel channel() {
    ManagedChannel channel = InProcessChannelBuilder.forName(serverName).build();
    channels.add(channel);
    return channel;
  }

  Path controllerDir() {
    return dir.resolve("controller");
  }

  public String adminToken() throws IOException {
    return Files.readString(adminTokenFile()).strip();
  }

  public Path adminTokenFile() {
    return controllerDir().resolve(AdminTokenBootstrap.FILE_NAME);
  }

  public Controller controller() {
    return controller;
  }

  /** Fast timers so host liveness and retries show within a test's patience. */
  public static ControllerConfig fastConfig() {
    return new ControllerConfig(1, Duration.ofSeconds(3), Duration.ofSeconds(1),
        Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofSeconds(10),
        Duration.ofSeconds(30), 300, 4.0, 16);
  }

  public Database db() {
    return db;
  }

  public FarmClient client() {
    return client;
  }

  /** Adds a simulated host with the given capacity and starts its agent. */
  public void addHost(String hostId, int vcpus, long memoryMb) throws IOException {
    addHost(hostId, vcpus, memoryMb, false, Map.of());
  }

  /** As above, its agent reporting these labels at registration (as with --label). */
  public void addHost(String hostId, int vcpus, long memoryMb, Map<String, String> labels)
      throws IOException {
    addHost(hostId, vcpus, memoryMb, false, labels);
  }

  /**
   * Adds a simulated host whose disks are real: it fetches images from the controller's image
   * store into an image cache, verifies them, and lays a qcow2 overlay on them (qemu-img), while
   * libvirt's test driver stands in for QEMU.
   */
  public void addCachingHost(String hostId, int vcpus, long memoryMb) throws IOException {
    addHost(hostId, vcpus, memoryMb, true, Map.of());
  }

  /** Where a simulated host keeps its disks, console logs and (a caching host) image cache. */
  public Path hostDir(String hostId) {
    return dir.resolve(hostId);
  }

  /** The file the controller's image store keeps a blob in. */
  public Path storedBlob(String sha256) {
    return controllerDir().resolve("blobs").resolve(sha256);
  }

  private void addHost(String hostId, int vcpus, long memoryMb, boolean caching,
      Map<String, String> labels)
      throws IOException {
    Path hostDir = dir.resolve(hostId);
    Files.createDirectories(hostDir);
    Path node = hostDir.resolve("node.xml");
    Files.writeString(node, "<node/>");
    int first = 30000 + 200 * hosts.size();
    ChannelOpener inProcess = target -> InProcessChannelBuilder.forName(target).build();
    // Archives go to the controller's image store, so a VM archived here restores anywhere.
    // Agents without a client certificate reach the image store with an admin token.
    BlobTransfers transfers = new BlobTransfers(new ImageStoreClient(
        new FailoverChannel(List.of(serverName), inProcess), java.util.Optional.of(adminToken())));
    VmArchives archives = new VmArchives(hostDir, transfers);
    DiskStore disks = caching
        ? new QemuDiskStore(hostDir, new ImageCache(hostDir.resolve("cache"), 1L << 30, transfers),
            new QemuImg())
        : new PathOnlyDiskStore(hostDir);
    LibvirtHypervisor hypervisor = new LibvirtHypervisor(new LibvirtConnection("test://" + node),
        new HostSettings(hostId, HypervisorKind.TEST, "127.0.0.1"), disks,
        archives, new HostPortAllocator(first, first + 199));
    LinkSettings settings = new LinkSettings(hostId, "127.0.0.1", List.of(serverName),
        HostCapacity.newBuilder().setVcpus(vcpus).setMemoryMb(memoryMb).setDiskMb(10_000).build(),
        "it", labels);
    SimulatedHost host = new SimulatedHost(hypervisor, settings, HostLoadProbe.forThisHost(hostDir));
    hosts.put(hostId, host);
    startAgent(hostId);
  }

  public void startAgent(String hostId) {
    SimulatedHost host = hosts.get(hostId);
    host.link = new ControllerLink(host.settings,
        target -> InProcessChannelBuilder.forName(target).build(), host.hypervisor, host.load);
    host.link.start();
  }

  /** Stops the agent; its host keeps its domains, as a real host does when its agent dies. */
  public void stopAgent(String hostId) {
    hosts.get(hostId).link.close();
  }

  public SimulatedHost host(String hostId) {
    return hosts.get(hostId);
  }

  public void awaitConnected(List<String> hostIds) {
    Await.until("hosts " + hostIds + " connected", Duration.ofSeconds(30), () ->
        client.listHosts().stream().filter(h -> hostIds.contains(h.getId()) && h.getConnected())
            .count() == hostIds.size());
  }

  @Override
  public void close() throws IOException {
    for (SimulatedHost h : hosts.values()) {
      h.link.close();
      h.hypervisor.close();
    }
    client.close();
    channels.forEach(ManagedChannel::shutdownNow);
    controller.close();
    server.shutdownNow();
    db.close();
    postgres.close();
  }
}
