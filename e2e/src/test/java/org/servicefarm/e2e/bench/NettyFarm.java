package org.servicefarm.e2e.bench;

import io.grpc.Server;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.servicefarm.agent.hypervisor.HypervisorKind;
import org.servicefarm.agent.hypervisor.libvirt.HostPortAllocator;
import org.servicefarm.agent.hypervisor.libvirt.HostSettings;
import org.servicefarm.agent.hypervisor.libvirt.LibvirtConnection;
import org.servicefarm.agent.hypervisor.Hypervisor;
import org.servicefarm.agent.hypervisor.libvirt.LibvirtHypervisor;
import org.servicefarm.agent.hypervisor.storage.PathOnlyDiskStore;
import org.servicefarm.agent.hypervisor.storage.VmArchives;
import org.servicefarm.agent.images.BlobTransfers;
import org.servicefarm.agent.images.ImageStoreClient;
import org.servicefarm.agent.link.ChannelOpener;
import org.servicefarm.agent.link.ControllerLink;
import org.servicefarm.agent.link.FailoverChannel;
import org.servicefarm.agent.link.LinkSettings;
import org.servicefarm.agent.load.HostLoadProbe;
import org.servicefarm.api.v1.HostCapacity;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;
import org.servicefarm.controller.Controller;
import org.servicefarm.controller.ControllerConfig;
import org.servicefarm.controller.auth.AdminTokenBootstrap;
import org.servicefarm.controller.auth.AgentIdentity;
import org.servicefarm.controller.auth.AuthSettings;
import org.servicefarm.controller.auth.RequestRateLimiter;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgres;
import org.servicefarm.e2e.support.FarmLeftovers;

/**
 * A farm for benchmarks at scale, in this JVM but over real sockets: the controller on a Netty
 * port on loopback with its own PostgreSQL, and any number of simulated hosts, each an agent with
 * its own gRPC stream and its own libvirt test-driver connection. No rate limit: the benchmark
 * is the load.
 */
final class NettyFarm implements AutoCloseable {
  private final Path dir;
  private final EmbeddedPostgres postgres;
  private final Database db;
  private final Controller controller;
  private final Server server;
  private final String target;
  private final String adminToken;
  private final List<ControllerLink> links = new ArrayList<>();
  private final List<Hypervisor> hypervisors = new ArrayList<>();
  /**
   * Simulated hosts keep their domains in a map ({@link InMemoryHypervisorForSimulation}) unless
   * {@code -Dbench.hypervisor=libvirt-test} asks for a libvirt test-driver connection each, as
   * before 2026-12-08: a thousand of those cost the benchmark's JVM more than the controller.
   */
  private static final boolean IN_MEMORY_HOSTS =
      !"libvirt-test".equals(System.getProperty("bench.hypervisor", "memory"));
  private final List<FarmClient> clients = new ArrayList<>();

  NettyFarm(ControllerConfig config, int poolSize) throws IOException {
    dir = Files.createTempDirectory("servicefarm-bench");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    postgres = EmbeddedPostgres.start(dir.resolve("pgdata"), 0);
    if ("off".equals(System.getProperty("bench.synchronousCommit"))) {
      // Diagnosis only: shows how much of a benchmark is waiting for WAL flushes at commit.
      try (java.sql.Connection c = postgres.connect(EmbeddedPostgres.DATABASE);
          java.sql.Statement st = c.createStatement()) {
        st.execute("ALTER DATABASE " + EmbeddedPostgres.DATABASE + " SET synchronous_commit = off");
      } catch (java.sql.SQLException e) {
        throw new IOException("cannot turn synchronous_commit off: " + e.getMessage(), e);
      }
    }
    db = new Database(postgres.jdbcUrl(), postgres.user(), "", poolSize);
    Migrations.migrate(db.dataSource());
    controller = new Controller(db, config, dir.resolve("controller"));
    server = controller.serve(NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .maxInboundMessageSize(4 * 1024 * 1024),
        AgentIdentity.trustingRegistration(),
        AuthSettings.tokens(false).withRateLimit(RequestRateLimiter.Limit.OFF));
    target = "127.0.0.1:" + server.getPort();
    AdminTokenBootstrap.ensureAdmin(controller.tokens(), dir.resolve("controller"));
    adminToken = Files.readString(dir.resolve("controller").resolve(AdminTokenBootstrap.FILE_NAME))
        .strip();
  }

  Database db() {
    return db;
  }

  String target() {
    return target;
  }

  /** A client with the admin token over its own channel; closed with the farm. */
  FarmClient client(Duration requestDeadline) {
    FarmClient client = FarmClient.connect(FarmClientOptions.builder().target(target)
        .bearerToken(adminToken).callDeadline(Duration.ofSeconds(60))
        .requestServiceDeadline(requestDeadline).build());
    clients.add(client);
    return client;
  }

  /**
   * Adds a simulated host and starts its agent, which dials the controller over TCP; the host
   * forwards guest ports from the 40 ports starting at firstPort.
   */
  void addHost(String hostId, int vcpus, long memoryMb, int firstPort) throws IOException {
    Path hostDir = dir.resolve("hosts").resolve(hostId);
    Files.createDirectories(hostDir);
    ChannelOpener tcp = address -> NettyChannelBuilder.forTarget(address).usePlaintext().build();
    Hypervisor hypervisor;
    if (IN_MEMORY_HOSTS) {
      hypervisor = new InMemoryHypervisorForSimulation(vcpus, memoryMb, firstPort);
    } else {
      Path node = hostDir.resolve("node.xml");
      Files.writeString(node, "<node/>");
      VmArchives archives = new VmArchives(hostDir, new BlobTransfers(new ImageStoreClient(
          new FailoverChannel(List.of(target), tcp), java.util.Optional.of(adminToken))));
      hypervisor = new LibvirtHypervisor(new LibvirtConnection("test://" + node),
          new HostSettings(hostId, HypervisorKind.TEST, "127.0.0.1"),
          new PathOnlyDiskStore(hostDir), archives,
          new HostPortAllocator(firstPort, firstPort + 39));
    }
    LinkSettings settings = new LinkSettings(hostId, "127.0.0.1", List.of(target),
        HostCapacity.newBuilder().setVcpus(vcpus).setMemoryMb(memoryMb).setDiskMb(100_000).build(),
        "bench");
    ControllerLink link = new ControllerLink(settings, tcp, hypervisor, IN_MEMORY_HOSTS
        ? new HostLoadProbe(simulatedProc(), hostDir) : HostLoadProbe.forThisHost(hostDir));
    hypervisors.add(hypervisor);
    links.add(link);
    link.start();
  }

  /**
   * A /proc whose CPU counters never move, for the in-memory hosts: every simulated host reports
   * the same idle CPU, so what tells hosts apart is what the farm placed on them. Read from this
   * machine's own /proc, each host's CPU was the machine's at the moment of its last report, up to
   * a fifth of a score apart, twenty small VMs' worth.
   */
  private synchronized Path simulatedProc() throws IOException {
    Path proc = dir.resolve("simulated-proc");
    if (!Files.exists(proc)) {
      Files.createDirectories(proc);
      Files.writeString(proc.resolve("stat"), "cpu  0 0 0 1000 0 0 0 0 0 0\n");
      Files.copy(Path.of("/proc/meminfo"), proc.resolve("meminfo"));
    }
    return proc;
  }

  @Override
  public void close() throws IOException {
    for (FarmClient c : clients) {
      c.close();
    }
    links.parallelStream().forEach(ControllerLink::close);
    for (Hypervisor h : hypervisors) {
      h.close();
    }
    controller.close();
    server.shutdownNow();
    db.close();
    postgres.close();
    FarmLeftovers.deleteTree(dir);
  }
}
