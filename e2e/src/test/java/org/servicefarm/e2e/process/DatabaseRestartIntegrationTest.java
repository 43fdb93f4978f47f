package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.StandalonePostgres;

/**
 * PostgreSQL stopped for a few seconds and started again under a request load, the controller
 * left running: while the database is gone every call ends quickly with UNAVAILABLE (none hangs,
 * none is INTERNAL), the controller recovers by itself, every key that failed succeeds when
 * retried, and no VM is lost or doubled. Real processes; agents on libvirt's test driver.
 */
class DatabaseRestartIntegrationTest {
  private static final List<String> HOSTS = List.of("pg-1", "pg-2");
  private static final int SERVICES = 30;
  private static final int CLIENTS = 4;
  private static final Duration LOAD = Duration.ofSeconds(20);
  private static final Duration DOWN = Duration.ofSeconds(5);
  /** No call may take longer, database or not. */
  private static final Duration CALL_BOUND = Duration.ofSeconds(10);

  /** One call: which key, how long it took, and the VM or the status code it ended with. */
  private record Call(String key, String service, long startNanos, long millis, String vmId,
      Status.Code failure) {
    long endNanos() {
      return startNanos + TimeUnit.MILLISECONDS.toNanos(millis);
    }
  }

  @Test
  void requestsFailFastWhileTheDatabaseIsGoneAndNoVmIsLostOrDoubled() throws Exception {
    try (ProcessFarm farm = new ProcessFarm("test:///default");
        StandalonePostgres postgres = new StandalonePostgres(farm.dir().resolve("postgres"))) {
      farm.useDatabase(postgres);
      farm.startController();
      for (String host : HOSTS) {
        farm.startAgent(host);
      }
      farm.awaitConnected(HOSTS);
      FarmClient admin = farm.client();
      for (int i = 0; i < SERVICES; i++) {
        admin.defineService(ServiceDefinition.newBuilder().setName("load-" + i)
            .addPackages("busybox").setPort(80).setVcpus(1).setMemoryMb(64).build());
      }

      List<Call> calls = Collections.synchronizedList(new ArrayList<>());
      long[] outage = new long[2];
      try (FarmClient once = FarmClient.connect(FarmClientOptions.builder()
          .target(farm.target()).plaintext(true)
          .bearerToken(Files.readString(farm.adminTokenFile()).strip()).maxAttempts(1)
          .callDeadline(CALL_BOUND.multipliedBy(2))
          .requestServiceDeadline(CALL_BOUND.multipliedBy(2)).build())) {
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        long end = System.nanoTime() + LOAD.toNanos();
        AtomicInteger next = new AtomicInteger();
        for (int c = 0; c < CLIENTS; c++) {
          clients.execute(() -> load(once, calls, next, end));
        }
        Thread.sleep(LOAD.toMillis() / 3);
        outage[0] = System.nanoTime();
        postgres.stop();
        Thread.sleep(DOWN.toMillis());
        postgres.start();
        outage[1] = System.nanoTime();
        clients.shutdown();
        assertTrue(clients.awaitTermination(LOAD.toSeconds() + 60, TimeUnit.SECONDS));
      }

      List<Call> failed = calls.stream().filter(c -> c.failure() != null).toList();
      long slowest = calls.stream().mapToLong(Call::millis).max().orElse(0);
      assertTrue(slowest < CALL_BOUND.toMillis(), "a call took " + slowest + " ms");
      assertTrue(failed.stream().allMatch(c -> c.failure() == Status.Code.UNAVAILABLE),
          "failures other than UNAVAILABLE: " + failed.stream()
              .filter(c -> c.failure() != Status.Code.UNAVAILABLE).toList());
      assertTrue(!failed.isEmpty(), "no call failed: the database was not missed");
      // Only calls under way while it was gone (or just after, as the pool reconnects) fail.
      assertTrue(failed.stream().allMatch(c -> c.endNanos() > outage[0]
          && c.startNanos() < outage[1] + TimeUnit.SECONDS.toNanos(5)),
          "calls failed away from the outage: " + failed);
      // Recovered: the first call that began after the stop and succeeded, once it is back.
      double recovered = calls.stream()
          .filter(c -> c.failure() == null && c.startNanos() > outage[0])
          .mapToLong(Call::endNanos).min().stream()
          .mapToDouble(first -> Math.max(0, first - outage[1]) / 1e9).findFirst()
          .orElseThrow(() -> new AssertionError("no request succeeded after the database returned"
              + "\n" + farm.logs()));

      // Every key that failed succeeds when tried again; every key has one VM throughout.
      Map<String, String> vmOfKey = new HashMap<>();
      for (Call c : calls) {
        if (c.vmId() != null) {
          String earlier = vmOfKey.putIfAbsent(c.key(), c.vmId());
          assertTrue(earlier == null || earlier.equals(c.vmId()), c.key() + " got two VMs");
        }
      }
      for (Call c : failed) {
        ServiceAccess again = admin.requestService(c.service(), c.key());
        String earlier = vmOfKey.putIfAbsent(c.key(), again.vmId());
        assertTrue(earlier == null || earlier.equals(again.vmId()), c.key() + " got two VMs");
      }
      List<Vm> vms = admin.listVms().stream().filter(vm -> vm.getState() != VmState.VM_STATE_DELETED
          && vm.getState() != VmState.VM_STATE_FAILED).toList();
      for (String vmId : vmOfKey.values()) {
        assertTrue(vms.stream().anyMatch(vm -> vm.getId().equals(vmId)
            && vm.getState() == VmState.VM_STATE_ACTIVE), "VM " + vmId + " was lost");
      }
      Map<String, Long> perService = new HashMap<>();
      vms.forEach(vm -> perService.merge(vm.getDefinition(), 1L, Long::sum));
      assertTrue(perService.values().stream().allMatch(n -> n == 1), "doubled: " + perService);
      farm.awaitTrue("every host's domains are VMs of the farm", Duration.ofSeconds(20), () ->
          admin.listHosts().stream().allMatch(h -> h.getLoad().getVmCount()
              == vms.stream().filter(vm -> vm.getHostId().equals(h.getId())).count()));
      System.out.printf("database restart: requests=%d, failed while down=%d (all UNAVAILABLE,"
              + " slowest %d ms), recovered after %.1f s, VMs lost: 0, doubled: 0%n",
          calls.size(), failed.size(), slowest, recovered);
    }
  }

  /** One client: new keys on the next service, and now and then a key it used before. */
  private static void load(FarmClient client, List<Call> calls, AtomicInteger next, long end) {
    List<String[]> used = new ArrayList<>();
    ThreadLocalRandom random = ThreadLocalRandom.current();
    while (System.nanoTime() < end) {
      String[] keyAndService;
      if (!used.isEmpty() && random.nextInt(3) == 0) {
        keyAndService = used.get(random.nextInt(used.size()));
      } else {
        int n = next.getAndIncrement();
        keyAndService = new String[] {"key-" + n, "load-" + (n % SERVICES)};
        used.add(keyAndService);
      }
      long start = System.nanoTime();
      String vmId = null;
      Status.Code failure = null;
      try {
        vmId = client.requestService(keyAndService[1], keyAndService[0]).vmId();
      } catch (FarmException e) {
        failure = e.code();
      }
      calls.add(new Call(keyAndService[0], keyAndService[1], start,
          (System.nanoTime() - start) / 1_000_000, vmId, failure));
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
