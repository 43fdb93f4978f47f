package org.servicefarm.e2e.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.client.FarmClient;
import org.servicefarm.controller.ControllerConfig;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.BenchmarkTable;

/**
 * Placement at scale: simulated hosts (each an agent with its own gRPC stream, its domains in
 * memory: {@link InMemoryHypervisorForSimulation}; {@code -Dbench.hypervisor=libvirt-test} gives
 * each a libvirt test-driver connection instead), requests for many distinct services from many
 * clients at once. Prints placements/s, request-to-ACTIVE latency, how evenly VMs spread and the
 * CPU each placement cost (this JVM: controller, agents and clients; PostgreSQL), beside a floor:
 * the same number of single-row INSERT transactions through the same pool and concurrency.
 *
 * <p>Sizes: -Dbench.hosts (1000), -Dbench.services (2500), -Dbench.requests (20000),
 * -Dbench.clients (128).
 */
class PlacementScaleBenchmark {
  private static final int HOSTS = Integer.getInteger("bench.hosts", 1000);
  // A farm holds at most 2,768 service names (one gateway port each, 30000-32767).
  private static final int SERVICES = Integer.getInteger("bench.services", 2500);
  private static final int REQUESTS = Integer.getInteger("bench.requests", 20000);
  private static final int CLIENTS = Integer.getInteger("bench.clients", 128);
  private static final int HOST_VCPUS = 16;
  private static final long HOST_MEMORY_MB = 16384;

  @Test
  void placesVmsForDistinctServicesOnManyHosts() throws Exception {
    // The defaults but for reconcile workers: each waits out its command's round trip.
    ControllerConfig config = new ControllerConfig(2, Duration.ofSeconds(10),
        Duration.ofSeconds(10), Duration.ofMinutes(5), Duration.ofSeconds(60),
        Duration.ofSeconds(60), Duration.ofMinutes(10), 2000, 4.0,
        Integer.getInteger("bench.reconcilers", 16));
    try (NettyFarm farm = new NettyFarm(config, Integer.getInteger("bench.pool", 32))) {
      FarmClient admin = farm.client(Duration.ofMinutes(5));
      long hostsStarted = System.nanoTime();
      for (int i = 0; i < HOSTS; i++) {
        farm.addHost(String.format("scale-%04d", i), HOST_VCPUS, HOST_MEMORY_MB, 20000 + 40 * i);
      }
      Await.until(HOSTS + " hosts connected", Duration.ofMinutes(5),
          () -> admin.listHosts().stream().filter(Host::getConnected).count() == HOSTS);
      double connectSeconds = (System.nanoTime() - hostsStarted) / 1e9;
      parallel(8, SERVICES, i -> admin.defineService(ServiceDefinition.newBuilder()
          .setName("scale-svc-" + i).addPackages("busybox").setPort(80).setVcpus(1)
          .setMemoryMb(256).build()));

      List<String> order = new ArrayList<>(REQUESTS);
      for (int i = 0; i < REQUESTS; i++) {
        order.add("scale-svc-" + (i % SERVICES));
      }
      Collections.shuffle(order, new Random(42));
      long[] sentAtMillis = new long[REQUESTS];
      String[] vmOf = new String[REQUESTS];
      boolean[] created = new boolean[REQUESTS];
      List<FarmClient> clients = IntStream.range(0, 4)
          .mapToObj(i -> farm.client(Duration.ofMinutes(5))).toList();
      long commitsBefore = commits(farm);
      Cpu cpuBefore = Cpu.now();
      long started = System.nanoTime();
      // Each answer comes once the request's decision has committed (no_wait): a new VM is then
      // placed on its host, and the reconciler drives it to ACTIVE meanwhile.
      parallel(CLIENTS, REQUESTS, i -> {
        sentAtMillis[i] = System.currentTimeMillis();
        RequestServiceResponse answer = clients.get(i % clients.size())
            .requestServiceNoWait(order.get(i), "bench-" + i);
        vmOf[i] = answer.getVmId();
        created[i] = answer.getCreated();
      });
      double decidedSeconds = (System.nanoTime() - started) / 1e9;
      Cpu decideCpu = Cpu.now().minus(cpuBefore);
      // Counted in the database: listing every VM each poll would load the controller.
      Await.until("every VM ACTIVE", Duration.ofMinutes(30), () -> farm.db().queryOne(
          "SELECT count(*) FROM vms WHERE state = 'ACTIVE'", rs -> rs.getLong(1))
          .orElseThrow() == SERVICES);
      double activeSeconds = (System.nanoTime() - started) / 1e9;
      double commitsPerPlacement = (double) (commits(farm) - commitsBefore) / SERVICES;

      List<Vm> vms = admin.listVms();
      assertEquals(SERVICES, vms.size(), "one VM per service");
      assertEquals(SERVICES, IntStream.range(0, REQUESTS).filter(i -> created[i]).count(),
          "one creating request per service");
      List<Host> hosts = admin.listHosts();
      long overCommitted = hosts.stream().filter(h ->
          h.getAllocatedMemoryMb() > h.getCapacity().getMemoryMb()).count();
      assertEquals(0, overCommitted, "no host over-committed");
      Map<String, Long> perHost = vms.stream()
          .collect(Collectors.groupingBy(Vm::getHostId, Collectors.counting()));
      double mean = (double) SERVICES / HOSTS;
      long max = perHost.values().stream().mapToLong(Long::longValue).max().orElse(0);
      Map<String, Long> activeAt = activeAtMillis(farm);
      long[] toActive = IntStream.range(0, REQUESTS)
          .mapToLong(i -> (activeAt.get(vmOf[i]) - sentAtMillis[i]) * 1_000_000L)
          .map(nanos -> Math.max(0, nanos)).toArray();
      double floorPerSecond = insertFloor(farm);

      BenchmarkTable table = new BenchmarkTable("Placement at scale", "hosts", "services",
          "requests", "clients", "decided in", "placements/s", "requests/s", "all ACTIVE in",
          "VMs to ACTIVE/s", "p50 request to ACTIVE", "p99 request to ACTIVE",
          "VMs per host max/mean", "over-committed hosts", "floor inserts/s",
          "placements / floor", "DB commits per VM", "JVM CPU per placement",
          "PostgreSQL CPU per placement");
      double placementsPerSecond = SERVICES / decidedSeconds;
      table.row(HOSTS, SERVICES, REQUESTS, CLIENTS, String.format("%.1f s", decidedSeconds),
          String.format("%.0f", placementsPerSecond),
          String.format("%.0f", REQUESTS / decidedSeconds),
          String.format("%.1f s", activeSeconds), String.format("%.0f", SERVICES / activeSeconds),
          millis(percentile(toActive, 0.50)), millis(percentile(toActive, 0.99)),
          String.format("%.2f", max / mean), overCommitted,
          String.format("%.0f", floorPerSecond),
          String.format("%.3f", placementsPerSecond / floorPerSecond),
          String.format("%.1f", commitsPerPlacement),
          String.format("%.2f ms", decideCpu.jvmNanos() / 1e6 / SERVICES),
          String.format("%.2f ms", decideCpu.childrenNanos() / 1e6 / SERVICES));
      table.note("Hosts connected in " + String.format("%.1f s", connectSeconds) + ". Each host "
          + HOST_VCPUS + " vCPUs, " + HOST_MEMORY_MB + " MB; each VM 1 vCPU, 256 MB. Requests are"
          + " RequestService calls with no_wait, each answered once its decision has committed"
          + " (the VM placed on its host), every service asked " + (REQUESTS / SERVICES)
          + " times in a shuffled order from " + CLIENTS + " threads; \"decided in\" is when the"
          + " last answer came. Request to ACTIVE: from a request's sending to its VM's ACTIVE"
          + " event. The floor is one single-row INSERT transaction per placement through the"
          + " same pool from " + CLIENTS + " threads.");
      table.note("CPU per placement is the CPU spent while the requests were decided, over the"
          + " placements: this JVM's (the controller, the " + HOSTS + " simulated agents ("
          + (System.getProperty("bench.hypervisor", "memory")) + " domains) and the clients), and"
          + " its child processes' (PostgreSQL).");
      table.note("Mean time from a VM's row to each state: " + phases(farm) + ".");
      table.publish("placement-scale.md");
    }
  }

  /** CPU time so far of this JVM, and of its child processes (the embedded PostgreSQL). */
  private record Cpu(long jvmNanos, long childrenNanos) {
    static Cpu now() {
      long jvm = ((com.sun.management.OperatingSystemMXBean)
          java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
      long children = ProcessHandle.current().descendants().mapToLong(p -> p.info()
          .totalCpuDuration().map(Duration::toNanos).orElse(0L)).sum();
      return new Cpu(jvm, children);
    }

    Cpu minus(Cpu before) {
      return new Cpu(jvmNanos - before.jvmNanos, childrenNanos - before.childrenNanos);
    }
  }

  /** The mean time from each VM's first event to its entering each state, from the events. */
  private static String phases(NettyFarm farm) {
    return String.join(", ", farm.db().query("SELECT e.to_state,"
        + " avg(extract(epoch FROM e.at - f.first)) * 1000 FROM events e JOIN (SELECT vm_id,"
        + " min(at) AS first FROM events WHERE kind = 'VM_STATE' GROUP BY vm_id) f"
        + " ON f.vm_id = e.vm_id WHERE e.kind = 'VM_STATE' GROUP BY e.to_state ORDER BY 2",
        rs -> rs.getString(1) + " " + Math.round(rs.getDouble(2)) + " ms"));
  }

  /** When each VM entered ACTIVE (its first such event), in epoch milliseconds. */
  private static Map<String, Long> activeAtMillis(NettyFarm farm) {
    Map<String, Long> at = new java.util.HashMap<>();
    farm.db().query("SELECT vm_id, min(at) FROM events WHERE kind = 'VM_STATE'"
        + " AND to_state = 'ACTIVE' GROUP BY vm_id",
        rs -> at.put(rs.getString(1), rs.getTimestamp(2).getTime()));
    return at;
  }

  /** Transactions committed in the farm's database so far (PostgreSQL's own count). */
  private static long commits(NettyFarm farm) {
    return farm.db().queryOne("SELECT xact_commit FROM pg_stat_database"
        + " WHERE datname = current_database()", rs -> rs.getLong(1)).orElseThrow();
  }

  /** Single-row INSERT transactions per second through the controller's pool: the floor. */
  private static double insertFloor(NettyFarm farm) throws InterruptedException {
    farm.db().update("CREATE UNLOGGED TABLE IF NOT EXISTS bench_floor (id int, at timestamptz)");
    long started = System.nanoTime();
    parallel(CLIENTS, SERVICES, i ->
        farm.db().update("INSERT INTO bench_floor (id, at) VALUES (?, now())", i));
    return SERVICES / ((System.nanoTime() - started) / 1e9);
  }

  private interface Work {
    void run(int index) throws Exception;
  }

  private static void parallel(int threads, int count, Work work) throws InterruptedException {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    AtomicInteger next = new AtomicInteger();
    List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
    for (int t = 0; t < threads; t++) {
      pool.execute(() -> {
        for (int i = next.getAndIncrement(); i < count && failures.isEmpty();
            i = next.getAndIncrement()) {
          try {
            work.run(i);
          } catch (Exception | AssertionError e) {
            failures.add(e);
          }
        }
      });
    }
    pool.shutdown();
    if (!pool.awaitTermination(30, TimeUnit.MINUTES)) {
      throw new AssertionError("benchmark work did not finish within 30 minutes");
    }
    if (!failures.isEmpty()) {
      AssertionError error = new AssertionError(failures.size() + " calls failed; the first: "
          + failures.get(0), failures.get(0));
      throw error;
    }
  }

  private static long percentile(long[] nanos, double p) {
    if (nanos.length == 0) {
      return 0;
    }
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)];
  }

  private static String millis(long nanos) {
    return String.format("%.1f ms", nanos / 1e6);
  }
}
