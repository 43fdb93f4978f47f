package org.servicefarm.e2e.bench;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.servicefarm.agent.hypervisor.HypervisorKind;
import org.servicefarm.agent.hypervisor.libvirt.HostPortAllocator;
import org.servicefarm.agent.hypervisor.libvirt.HostSettings;
import org.servicefarm.agent.hypervisor.libvirt.LibvirtConnection;
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
import org.servicefarm.controller.Controller;
import org.servicefarm.controller.ControllerConfig;
import org.servicefarm.controller.auth.AgentIdentity;
import org.servicefarm.controller.auth.AuthSettings;
import org.servicefarm.controller.auth.RequestRateLimiter;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgres;

/**
 * The controller in this JVM, served on a real Netty port on 127.0.0.1 the way ControllerMain
 * serves it (same builder settings, no auth, no rate limit), on its own embedded PostgreSQL, with
 * one simulated host whose agent dials that port. In this JVM rather than as a process so the
 * farm, the echo floor and the clients share one JIT, heap and garbage collector: the ratio
 * between them is then the farm's own cost, not a second JVM's.
 */
final class WarmPathFarm implements AutoCloseable {
  /** The controller's pool size, which the database floor's pool copies. */
  static final int POOL_SIZE = 16;

  private final Path dir;
  private final EmbeddedPostgres postgres;
  private final Database db;
  private final Controller controller;
  private final Server server;
  private final LibvirtHypervisor hypervisor;
  private final ControllerLink agent;

  Controller controller() {
    return controller;
  }

  WarmPathFarm() throws IOException {
    dir = Files.createTempDirectory("servicefarm-bench");
    // As root, PostgreSQL runs as an unprivileged user that must be able to enter the directory.
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    postgres = EmbeddedPostgres.start(dir.resolve("pgdata"), 0);
    db = new Database(postgres.jdbcUrl(), postgres.user(), "", POOL_SIZE);
    Migrations.migrate(db.dataSource());
    controller = new Controller(db, ControllerConfig.defaults(), dir.resolve("controller"));
    server = controller.serve(nettyServer(), AgentIdentity.trustingRegistration(),
        AuthSettings.none().withRateLimit(RequestRateLimiter.Limit.OFF));
    String target = "127.0.0.1:" + server.getPort();
    ChannelOpener netty = WarmPathFarm::channel;
    Path hostDir = dir.resolve("bench-host");
    Files.createDirectories(hostDir);
    Path node = hostDir.resolve("node.xml");
    Files.writeString(node, "<node/>");
    VmArchives archives = new VmArchives(hostDir, new BlobTransfers(new ImageStoreClient(
        new FailoverChannel(List.of(target), netty))));
    hypervisor = new LibvirtHypervisor(new LibvirtConnection("test://" + node),
        new HostSettings("bench-host", HypervisorKind.TEST, "127.0.0.1"),
        new PathOnlyDiskStore(hostDir), archives, new HostPortAllocator(31000, 31199));
    agent = new ControllerLink(new LinkSettings("bench-host", "127.0.0.1", List.of(target),
        HostCapacity.newBuilder().setVcpus(8).setMemoryMb(8192).setDiskMb(10_000).build(), "bench"),
        netty, hypervisor, HostLoadProbe.forThisHost(hostDir));
    agent.start();
  }

  /** The server settings ControllerMain uses; the echo floor is served with the same. */
  static NettyServerBuilder nettyServer() {
    return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .maxInboundMessageSize(4 * 1024 * 1024)
        .maxInboundMetadataSize(16 * 1024)
        .permitKeepAliveTime(5, TimeUnit.SECONDS);
  }

  /** A plaintext channel of its own (one connection), as each benchmark client has. */
  static ManagedChannel channel(String target) {
    return NettyChannelBuilder.forTarget(target).usePlaintext().build();
  }

  String target() {
    return "127.0.0.1:" + server.getPort();
  }

  /** The controller's database, for counting its transactions. */
  Database db() {
    return db;
  }

  String jdbcUrl() {
    return postgres.jdbcUrl();
  }

  String user() {
    return postgres.user();
  }

  @Override
  public void close() throws IOException {
    agent.close();
    hypervisor.close();
    controller.close();
    server.shutdownNow();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    db.close();
    postgres.close();
  }
}
