package org.servicefarm.e2e.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.BenchmarkTable;
import org.servicefarm.e2e.support.GatewayProcess;
import org.servicefarm.e2e.support.GuestStandIn;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.ProcessFigures;

/**
 * The gateway's cost beside the same operation without it, in one run, on real processes (a
 * controller, an agent on libvirt's test driver, a gateway) with a {@link GuestStandIn} serving on
 * the VM's forwarded port:
 * <ul>
 *   <li>time to first byte of a new connection to an ACTIVE service: direct to the VM's port,
 *       through the gateway's service port, through its HTTP port, and through a plain Netty
 *       proxy (the floor);
 *   <li>time to first byte when the gateway wakes the (simulated) VM, beside RequestService
 *       then a connection: the farm's own part of a wake, without a guest's;
 *   <li>a 100 MiB download direct and through the gateway;
 *   <li>connections per second at 64 concurrent clients: direct, plain proxy, gateway.
 * </ul>
 * {@code -Dbench.connections} sets the sequential connections per TTFB row (default 2000),
 * {@code -Dbench.seconds} the measured time of each connections/s row (default 8),
 * {@code -Dbench.downloads} the rounds of downloads (default 5).
 */
class GatewayBenchmark {
  private static final int CONNECTIONS = Integer.getInteger("bench.connections", 2000);
  private static final Duration MEASURE = Duration.ofSeconds(Long.getLong("bench.seconds", 8));
  private static final int CLIENTS = 64;
  private static final int DOWNLOAD_ROUNDS = Integer.getInteger("bench.downloads", 5);
  /** A loopback address of its own: another farm's gateway on this machine may hold the ports. */
  private static final String GATEWAY_ADDRESS = "127.0.0.5";
  /** A second gateway, on Netty's NIO transport: what epoll buys, in the same run. */
  private static final String NIO_GATEWAY_ADDRESS = "127.0.0.6";

  @Test
  void gateway() throws Exception {
    try (ProcessFarm farm = new ProcessFarm("test:///default")) {
      farm.startController();
      farm.startAgent("bench-gw-1");
      farm.awaitConnected(List.of("bench-gw-1"));
      FarmClient client = farm.client();
      client.defineService(ServiceDefinition.newBuilder().setName("bench-web")
          .addPackages("busybox").setCommand("busybox httpd -f -p 80").setPort(80).setVcpus(1)
          .setMemoryMb(256).build());
      ServiceAccess vm = client.requestService("bench-web");
      int servicePort = client.listServices().getGatewaysList().stream()
          .filter(g -> g.getService().equals("bench-web")).findFirst().orElseThrow()
          .getGatewayPort();
      try (GuestStandIn guest = new GuestStandIn(vm.host(), vm.port(), "bench page");
          GatewayProcess gateway = GatewayProcess.start(farm, "gateway-bench", GATEWAY_ADDRESS,
              List.of("--release-grace", "5"));
          GatewayProcess nioGateway = GatewayProcess.start(farm, "gateway-bench-nio",
              NIO_GATEWAY_ADDRESS, List.of("--release-grace", "5", "--transport", "nio"));
          PlainTcpProxy floor = new PlainTcpProxy(vm.host(), vm.port())) {
        client.releaseLease(vm.lease().id());
        System.out.println("stand-in for VM " + vm.vmId() + " on " + vm.endpoint() + ": "
            + guest.connections() + " connections so far");
        Await.until("the gateway listening on " + servicePort, Duration.ofSeconds(30),
            () -> reachable(GATEWAY_ADDRESS, servicePort));
        BenchmarkTable ttfb = new BenchmarkTable("Gateway: time to first byte, ACTIVE service ("
            + CONNECTIONS + " new connections each, one at a time)",
            "path", "p50", "p99", "p99 over direct");
        Latencies direct = firstBytes(vm.host(), vm.port(), "x", CONNECTIONS);
        Latencies plain = firstBytes("127.0.0.1", floor.port(), "x", CONNECTIONS);
        Latencies tcp = firstBytes(GATEWAY_ADDRESS, servicePort, "x", CONNECTIONS);
        Latencies http = firstBytes(GATEWAY_ADDRESS, gateway.httpPort(), "bench-web.localhost",
            CONNECTIONS);
        ttfb.row("direct to the VM's port", ms(direct.p50()), ms(direct.p99()), "-");
        ttfb.row("plain Netty proxy (floor)", ms(plain.p50()), ms(plain.p99()),
            ms(plain.p99() - direct.p99()));
        ttfb.row("gateway, service port", ms(tcp.p50()), ms(tcp.p99()),
            ms(tcp.p99() - direct.p99()));
        ttfb.row("gateway, HTTP port (Host)", ms(http.p50()), ms(http.p99()),
            ms(http.p99() - direct.p99()));
        ttfb.note("Each connection: connect, send GET / with Connection: close, read the first"
            + " byte of the answer. The VM is a stand-in HTTP server on the VM's forwarded port"
            + " (libvirt's test driver boots no guest), so the figures are the gateway's own.");

        BenchmarkTable wakes = new BenchmarkTable("Gateway: time to first byte when the farm"
            + " readies the VM (test driver: the farm's part, no guest)", "path",
            "through the gateway", "RequestService then connect (no gateway)");
        for (int round = 0; round < 3; round++) {
          wakes.row("woke", ms(wakeThroughGateway(client, vm, gateway, false)),
              ms(wakeDirect(client, vm, false)));
        }
        wakes.note("A restore is not measured here: on the test driver it moves the VM's"
            + " forwarded port away from the stand-in. Real guests' wake and restore times (QEMU's managed save, the archive's"
            + " download and boot) add to both columns alike; RealGuestGatewayEndToEndTest"
            + " prints the held time of real guests' wake and restore through the gateway.");

        BenchmarkTable throughput = new BenchmarkTable("Gateway: 100 MiB download",
            "path", "MiB/s", "of direct", "gateway CPU per download");
        // Rounds interleave the paths, best of each kept: on a shared machine a burst of other
        // work then hurts every path alike instead of one row.
        Await.until("the NIO gateway listening on " + servicePort, Duration.ofSeconds(30),
            () -> reachable(NIO_GATEWAY_ADDRESS, servicePort));
        double directRate = 0;
        double plainRate = 0;
        double gatewayRate = 0;
        double httpRate = 0;
        double nioRate = 0;
        double gatewayCpu = ProcessFigures.cpuSeconds(gateway.process().pid());
        double nioCpu = ProcessFigures.cpuSeconds(nioGateway.process().pid());
        for (int round = 0; round < DOWNLOAD_ROUNDS; round++) {
          directRate = Math.max(directRate, download(vm.host(), vm.port()));
          plainRate = Math.max(plainRate, download("127.0.0.1", floor.port()));
          gatewayRate = Math.max(gatewayRate, download(GATEWAY_ADDRESS, servicePort));
          httpRate = Math.max(httpRate, download(GATEWAY_ADDRESS, gateway.httpPort()));
          nioRate = Math.max(nioRate, download(NIO_GATEWAY_ADDRESS, servicePort));
        }
        // CPU per download (the process's own, whatever else runs): two per round on epoll.
        gatewayCpu = (ProcessFigures.cpuSeconds(gateway.process().pid()) - gatewayCpu)
            / (2.0 * DOWNLOAD_ROUNDS);
        nioCpu = (ProcessFigures.cpuSeconds(nioGateway.process().pid()) - nioCpu)
            / DOWNLOAD_ROUNDS;
        throughput.row("direct to the VM's port", String.format("%.0f", directRate), "1.00", "-");
        throughput.row("plain Netty proxy (floor)", String.format("%.0f", plainRate),
            String.format("%.2f", plainRate / directRate), "-");
        throughput.row("gateway, service port", String.format("%.0f", gatewayRate),
            String.format("%.2f", gatewayRate / directRate),
            String.format("%.0f ms", gatewayCpu * 1000));
        throughput.row("gateway, HTTP port (Host)", String.format("%.0f", httpRate),
            String.format("%.2f", httpRate / directRate), "(with the row above)");
        throughput.row("gateway on NIO, service port", String.format("%.0f", nioRate),
            String.format("%.2f", nioRate / directRate), String.format("%.0f ms", nioCpu * 1000));
        throughput.note("Best of " + DOWNLOAD_ROUNDS + " downloads each, the paths taken in"
            + " turn each round; load average "
            + loadAverage() + " (1, 5, 15 min) as the table was written, on "
            + Runtime.getRuntime().availableProcessors() + " cores.");

        BenchmarkTable rates = new BenchmarkTable("Gateway: new connections per second, "
            + CLIENTS + " concurrent clients, ACTIVE service", "path", "connections/s",
            "of plain proxy");
        double directCps = connectionsPerSecond(vm.host(), vm.port());
        double plainCps = connectionsPerSecond("127.0.0.1", floor.port());
        double gatewayCps = connectionsPerSecond(GATEWAY_ADDRESS, servicePort);
        rates.row("direct to the VM's port", String.format("%.0f", directCps), "-");
        rates.row("plain Netty proxy (floor)", String.format("%.0f", plainCps), "1.00");
        rates.row("gateway, service port", String.format("%.0f", gatewayCps),
            String.format("%.2f", gatewayCps / plainCps));
        rates.note("Each client: connect, GET / with Connection: close, read the whole answer,"
            + " close; " + MEASURE.toSeconds() + " s per row on " + Runtime.getRuntime()
            .availableProcessors() + " cores shared by the clients, the proxy and the stand-in.");
        ttfb.publish("gateway-1-ttfb.md");
        wakes.publish("gateway-2-wake.md");
        throughput.publish("gateway-3-throughput.md");
        rates.publish("gateway-4-connections.md");
      }
    }
  }

  private static boolean reachable(String address, int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(address, port), 1000);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** Nanoseconds from connect to the first byte of a GET through the gateway, the VM put in state first. */
  private static long wakeThroughGateway(FarmClient client, ServiceAccess vm,
      GatewayProcess gateway, boolean archive) throws Exception {
    putAway(client, vm, archive);
    return firstByte(GATEWAY_ADDRESS, gateway.httpPort(), "bench-web.localhost");
  }

  private static long wakeDirect(FarmClient client, ServiceAccess vm, boolean archive)
      throws Exception {
    putAway(client, vm, archive);
    long start = System.nanoTime();
    ServiceAccess access = client.requestService("bench-web");
    long requested = System.nanoTime() - start;
    long first = firstByte(access.host(), access.port(), "x");
    client.releaseLease(access.lease().id());
    return requested + first;
  }

  private static void putAway(FarmClient client, ServiceAccess vm, boolean archive)
      throws InterruptedException {
    if (archive) {
      client.archiveVm(vm.vmId(), true);
    } else {
      client.suspendVm(vm.vmId(), true);
    }
    Thread.sleep(1500); // the gateway's table follows
    if (client.getVm(vm.vmId()).getState() == VmState.VM_STATE_ACTIVE) {
      throw new IllegalStateException("VM " + vm.vmId() + " did not leave ACTIVE");
    }
  }

  record Latencies(long p50, long p99) {}

  private static Latencies firstBytes(String host, int port, String hostHeader, int n)
      throws IOException {
    for (int i = 0; i < Math.min(200, n); i++) {
      firstByte(host, port, hostHeader); // warm-up
    }
    long[] samples = new long[n];
    for (int i = 0; i < n; i++) {
      samples[i] = firstByte(host, port, hostHeader);
    }
    java.util.Arrays.sort(samples);
    return new Latencies(samples[n / 2], samples[(int) Math.ceil(n * 0.99) - 1]);
  }

  /** Nanoseconds from connect to the answer's first byte. */
  static long firstByte(String host, int port, String hostHeader) throws IOException {
    long start = System.nanoTime();
    try (Socket s = new Socket()) {
      s.setTcpNoDelay(true);
      s.connect(new InetSocketAddress(host, port), 5000);
      s.setSoTimeout(120_000);
      s.getOutputStream().write(("GET / HTTP/1.1\r\nHost: " + hostHeader
          + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      InputStream in = s.getInputStream();
      if (in.read() < 0) {
        throw new IOException("no answer from " + host + ":" + port);
      }
      long elapsed = System.nanoTime() - start;
      in.readAllBytes();
      return elapsed;
    }
  }

  /** MiB/s of one 100 MiB download. */
  private static double download(String host, int port) throws IOException {
    long start = System.nanoTime();
    long bytes = 0;
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(host, port), 5000);
      OutputStream out = s.getOutputStream();
      out.write("GET /big HTTP/1.1\r\nHost: bench-web.localhost\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII));
      InputStream in = s.getInputStream();
      byte[] buf = new byte[256 * 1024];
      for (int n; (n = in.read(buf)) >= 0; ) {
        bytes += n;
      }
    }
    if (bytes < GuestStandIn.BIG_BYTES) {
      throw new IOException("download from " + host + ":" + port + " ended after " + bytes);
    }
    return bytes / 1048576.0 / ((System.nanoTime() - start) / 1e9);
  }

  private static double connectionsPerSecond(String host, int port) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
    AtomicBoolean measuring = new AtomicBoolean();
    AtomicBoolean stop = new AtomicBoolean();
    List<Future<Long>> counts = new ArrayList<>();
    try {
      for (int c = 0; c < CLIENTS; c++) {
        counts.add(pool.submit(() -> {
          long done = 0;
          while (!stop.get()) {
            firstByte(host, port, "x");
            if (measuring.get()) {
              done++;
            }
          }
          return done;
        }));
      }
      Thread.sleep(2000); // warm-up
      measuring.set(true);
      long start = System.nanoTime();
      Thread.sleep(MEASURE.toMillis());
      measuring.set(false);
      double seconds = (System.nanoTime() - start) / 1e9;
      stop.set(true);
      long total = 0;
      for (Future<Long> f : counts) {
        total += f.get();
      }
      return total / seconds;
    } finally {
      pool.shutdownNow();
    }
  }

  /** The machine's load average (1, 5, 15 min), to read the figures beside. */
  static String loadAverage() {
    try {
      String[] parts = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg"))
          .split(" ");
      return parts[0] + ", " + parts[1] + ", " + parts[2];
    } catch (IOException e) {
      return "unknown (" + e.getMessage() + ")";
    }
  }

  private static String ms(long nanos) {
    return String.format("%.3f ms", nanos / 1e6);
  }
}
