package org.servicefarm.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Access;
import org.servicefarm.api.v1.OperationPhase;
import org.servicefarm.api.v1.OperationUpdate;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.controller.reconcile.Failpoints;

/**
 * The controller halted (as abruptly as SIGKILL) at each step of provisioning, then restarted
 * without the failpoint: every request answered before the crash still holds, every pending one
 * completes (a no_wait operation reaches READY without being asked again; a waiting request
 * retried with its key gets its VM), no key has two VMs and no host runs a domain the farm does
 * not know. Real processes; agents on libvirt's test driver.
 */
class ControllerCrashIntegrationTest {
  private static final List<String> HOSTS = List.of("crash-1", "crash-2");
  private static final Duration TTL = Duration.ofSeconds(600);
  private static final Duration BOUND = Duration.ofSeconds(30);

  /** What a client was told: where its service is and the lease it holds. */
  private record Answer(String service, String vmId, String host, int port, String leaseId) {}

  @Test
  void answeredRequestsHoldAndPendingOnesCompleteAfterACrashAtEachStep() throws Exception {
    try (ProcessFarm farm = new ProcessFarm("test:///default")) {
      farm.startController();
      for (String host : HOSTS) {
        farm.startAgent(host);
      }
      farm.awaitConnected(HOSTS);
      FarmClient admin = farm.client();
      define(admin, "before");
      for (String point : Failpoints.KNOWN) {
        define(admin, service(point, "wait"));
        define(admin, service(point, "nowait"));
      }
      List<Answer> answered = new ArrayList<>();
      answered.add(answer(admin.requestService("before", "before", TTL)));
      int requests = 1;
      int held = 0;
      int pendingCompleted = 0;
      int resumed = 0;
      for (String point : Failpoints.KNOWN) {
        farm.killController();
        farm.startController(List.of(), Map.of(Failpoints.ENV, point));
        farm.awaitConnected(HOSTS);
        RequestServiceResponse started = crashAt(farm, point);
        requests += 2;
        farm.startController();
        farm.awaitConnected(HOSTS);

        for (Answer a : answered) {
          assertHolds(admin, a, point);
          held++;
        }
        Answer noWait = completeNoWait(admin, point, started);
        Answer waiting = answer(retried(() -> admin.requestService(service(point, "wait"),
            service(point, "wait"), TTL)));
        pendingCompleted += 2;
        resumed += started == null ? 0 : 1;
        answered.add(noWait);
        answered.add(waiting);
        assertOneVmPerKeyAndNoOrphans(farm, admin, answered);
        System.out.printf("failpoint %s: no_wait %s, waiting request pending; after restart both"
                + " complete on their VM; %d answered requests held%n", point,
            started == null ? "unanswered" : "answered (operation finished by the restarted"
                + " controller)", answered.size() - 2);
      }
      System.out.printf("controller crash: failpoints=%d, requests=%d, answered-before-crash"
              + " held=%d, pending completed=%d (%d no_wait operations resumed), duplicate VMs: 0,"
              + " orphans: 0%n", Failpoints.KNOWN.size(), requests, held, pendingCompleted,
          resumed);
    }
  }

  /**
   * A waiting request and a no_wait one sent together to a controller armed with the point; it
   * halts at the first of them to reach it. Returns the no_wait answer when it came first.
   */
  private static RequestServiceResponse crashAt(ProcessFarm farm, String point) throws Exception {
    try (FarmClient once = FarmClient.connect(FarmClientOptions.builder().target(farm.target())
        .plaintext(true).bearerToken(Files.readString(farm.adminTokenFile()).strip())
        .maxAttempts(1).callDeadline(BOUND).requestServiceDeadline(BOUND).build())) {
      CountDownLatch go = new CountDownLatch(1);
      CompletableFuture<ServiceAccess> waiting = CompletableFuture.supplyAsync(() -> {
        awaitQuietly(go);
        return once.requestService(service(point, "wait"), service(point, "wait"), TTL);
      });
      CompletableFuture<RequestServiceResponse> noWait = CompletableFuture.supplyAsync(() -> {
        awaitQuietly(go);
        return once.requestServiceNoWait(service(point, "nowait"), service(point, "nowait"));
      });
      go.countDown();
      assertTrue(farm.awaitControllerExit(BOUND), "the controller did not halt at " + point
          + "\n" + farm.logs());
      String log = Files.readString(farm.dir().resolve("logs").resolve("controller.log"));
      assertTrue(log.contains("failpoint " + point + " hit"), "no halt line for " + point);
      assertUnavailable(waiting, "the waiting request at " + point);
      try {
        return noWait.get(BOUND.toSeconds(), TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        assertUnavailable(noWait, "the no_wait request at " + point);
        return null;
      }
    }
  }

  /**
   * The no_wait request finished: its operation, when the client got one, is followed to READY
   * without asking again (the restarted controller resumes it); otherwise the request is sent
   * again with its key. Either way a repeat of the key answers the same VM.
   */
  private static Answer completeNoWait(FarmClient admin, String point,
      RequestServiceResponse started) throws Exception {
    String key = service(point, "nowait");
    String operationId = started != null ? started.getOperationId()
        : retried(() -> admin.requestServiceNoWait(key, key)).getOperationId();
    OperationUpdate last = CompletableFuture.supplyAsync(
        () -> admin.watchOperation(operationId, u -> { })).get(BOUND.toSeconds(), TimeUnit.SECONDS);
    assertEquals(OperationPhase.OPERATION_PHASE_READY, last.getPhase(),
        "operation of " + key + " after the crash at " + point + ": " + last);
    Access access = last.getResult().getAccess();
    ServiceAccess again = retried(() -> admin.requestService(key, key, TTL));
    assertEquals(last.getResult().getVmId(), again.vmId(), "a repeat of " + key + " moved VM");
    assertEquals(access.getHost() + ":" + access.getPort(), again.endpoint());
    if (started != null) {
      assertEquals(started.getVmId(), again.vmId(), "the VM " + key + " was answered with");
    }
    return new Answer(key, again.vmId(), access.getHost(), access.getPort(),
        last.getResult().getLease().getId());
  }

  /** The VM is there, ACTIVE, reached where the client was told, and its lease is live. */
  private static void assertHolds(FarmClient admin, Answer a, String point) {
    Vm vm = admin.getVm(a.vmId());
    assertEquals(VmState.VM_STATE_ACTIVE, vm.getState(), a + " after the crash at " + point);
    assertTrue(vm.getAccessList().stream().anyMatch(x -> x.getService().equals(a.service())
        && x.getHost().equals(a.host()) && x.getPort() == a.port()),
        a + " is reached elsewhere now: " + vm.getAccessList());
    admin.renewLease(a.leaseId(), TTL); // throws when the lease is gone
  }

  private static void assertOneVmPerKeyAndNoOrphans(ProcessFarm farm, FarmClient admin,
      List<Answer> answered) {
    List<Vm> vms = admin.listVms().stream().filter(vm -> vm.getState() != VmState.VM_STATE_DELETED
        && vm.getState() != VmState.VM_STATE_FAILED).toList();
    for (Answer a : answered) {
      List<String> ofKey = vms.stream().filter(vm -> vm.getDefinition().equals(a.service()))
          .map(Vm::getId).toList();
      assertEquals(List.of(a.vmId()), ofKey, "VMs of " + a.service());
    }
    // Each agent reports the farm domains it has; each must be a VM the farm placed there.
    farm.awaitTrue("every host's domains are VMs of the farm", BOUND, () ->
        admin.listHosts().stream().allMatch(h -> h.getLoad().getVmCount()
            == vms.stream().filter(vm -> vm.getHostId().equals(h.getId())).count()));
  }

  private static Answer answer(ServiceAccess a) {
    return new Answer(a.service(), a.vmId(), a.host(), a.port(), a.lease().id());
  }

  /** A call to the restarted controller, repeated while its hosts are reconnecting. */
  private static <T> T retried(java.util.function.Supplier<T> call) throws InterruptedException {
    long deadline = System.nanoTime() + BOUND.toNanos();
    while (true) {
      try {
        return call.get();
      } catch (FarmException e) {
        if (e.code() != io.grpc.Status.Code.UNAVAILABLE || System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(500);
      }
    }
  }

  private static void assertUnavailable(CompletableFuture<?> call, String what) {
    try {
      Object answer = call.get(BOUND.toSeconds(), TimeUnit.SECONDS);
      throw new AssertionError(what + " was answered although the controller halted: " + answer);
    } catch (java.util.concurrent.ExecutionException e) {
      assertTrue(e.getCause() instanceof FarmException f
          && f.code() == io.grpc.Status.Code.UNAVAILABLE, what + " failed with " + e.getCause());
    } catch (InterruptedException | java.util.concurrent.TimeoutException e) {
      throw new AssertionError(what + " did not end", e);
    }
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static void define(FarmClient admin, String name) {
    admin.defineService(ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
        .setPort(80).setVcpus(1).setMemoryMb(128).build());
  }

  /** One definition and one idempotency key per failpoint and kind of request. */
  private static String service(String point, String kind) {
    return point.replace("provision.", "").replace('.', '-') + "-" + kind;
  }
}
