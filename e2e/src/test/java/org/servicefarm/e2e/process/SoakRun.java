package org.servicefarm.e2e.process;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmTimeoutException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.ProcessFigures;
import org.servicefarm.e2e.support.RealGuests;

/**
 * The soak's load: cycles of two clients sharing one real guest, releasing it, and letting the
 * idle ladder put it to sleep or archive it before the next request wakes or restores it; the
 * agent is killed and restarted every other cycle, the controller a few times per run. What each
 * controller process held (heap after a full collection, file descriptors, database sessions) is
 * sampled when it has warmed up and again before it is stopped.
 */
final class SoakRun {
  static final String SERVICE = "soak-web";
  // Short ladder: asleep 3 s after the last lease ends, archived 10 s after that.
  private static final int SLEEP_AFTER_SECONDS = 3;
  private static final int ARCHIVE_AFTER_SECONDS = 10;
  private static final Duration LEASE_TTL = Duration.ofSeconds(60);
  private static final Duration PAGE_PATIENCE = Duration.ofSeconds(120);
  private static final Duration REQUEST_PATIENCE = Duration.ofMinutes(10);
  private static final Duration LADDER_PATIENCE = Duration.ofSeconds(120);

  /** What one controller process held when warm and when it was stopped. */
  record ProcessSample(long pid, double heapStartMib, long fdsStart, long sessionsStart,
      double heapEndMib, long fdsEnd, long sessionsEnd) {}

  private final ProcessFarm farm;
  private final String hostId;
  private final SoakChecks checks;
  private final List<ProcessSample> controllers = new ArrayList<>();
  private final Set<String> held = new TreeSet<>();
  private final Set<String> archives = new TreeSet<>();
  private long pid;
  private double heapStart;
  private long fdsStart;
  private long sessionsStart;
  int cycles;
  int requests;
  int releases;
  int timeouts;
  int pagesServed;
  int agentRestarts;
  int controllerRestarts;

  SoakRun(ProcessFarm farm, String hostId, SoakChecks checks) {
    this.farm = farm;
    this.hostId = hostId;
    this.checks = checks;
  }

  static ServiceDefinition definition() {
    return ServiceDefinition.newBuilder().setName(SERVICE).addPackages("busybox")
        .setCommand("busybox httpd -f -p 80 -h /srv/www").setPort(80).setVcpus(1)
        .setMemoryMb(256).setSleepAfterSeconds(SLEEP_AFTER_SECONDS)
        .setArchiveAfterSeconds(ARCHIVE_AFTER_SECONDS).build();
  }

  /** The first request (composes the image and boots the guest), outside the timed load. */
  void warmUp() throws Exception {
    FarmClient client = farm.client(Duration.ofMinutes(15));
    client.defineService(definition());
    useAndRelease(client);
    sampleStart();
  }

  /** Runs cycles until the duration has passed; the last cycle finishes. */
  void run(Duration duration) throws Exception {
    long start = System.nanoTime();
    long end = start + duration.toNanos();
    // One controller restart per ten minutes of soak, at least one.
    int restarts = (int) Math.max(1, duration.toMinutes() / 10);
    long restartEvery = duration.toNanos() / (restarts + 1);
    long nextRestart = start + restartEvery;
    while (System.nanoTime() < end) {
      cycles++;
      FarmClient client = farm.client();
      useAndRelease(client);
      switch (cycles % 3) {
        case 1 -> awaitState(client, VmState.VM_STATE_SLEEPING);
        case 2 -> awaitState(client, VmState.VM_STATE_ARCHIVED);
        default -> { } // released and left running: the next request finds it active
      }
      if (cycles % 2 == 0) {
        restartAgent();
      }
      if (System.nanoTime() >= nextRestart && controllerRestarts < restarts) {
        restartController(controllerRestarts % 2 == 0);
        nextRestart += restartEvery;
      }
    }
    // One lease stays held past the end: the table must show exactly it.
    ServiceAccess kept = farm.client().requestService(SERVICE, UUID.randomUUID().toString(),
        Duration.ofMinutes(10));
    requests++;
    held.add(kept.lease().id());
    noteArchives();
  }

  /** Samples the last controller process's end figures (after the farm has settled). */
  void finish() throws Exception {
    noteArchives();
    sampleEnd();
  }

  /**
   * Every archive a VM row has pointed at during the soak. A VM is archived again only after a
   * request restored it, and keeps the reference of the archive it was restored from while the
   * request's leases hold it awake: reading the rows after each request (and at the end) sees
   * every archive made.
   */
  Set<String> archivesSeen() {
    return archives;
  }

  private void noteArchives() throws java.sql.SQLException {
    for (SoakChecks.VmRow vm : checks.vms()) {
      if (vm.archiveRef() != null && vm.archiveRef().startsWith("sha256:")) {
        archives.add(vm.archiveRef().substring("sha256:".length()));
      }
    }
  }

  List<ProcessSample> controllers() {
    return controllers;
  }

  Set<String> heldLeases() {
    return held;
  }

  long controllerPid() {
    return pid;
  }

  // Two clients at once, both served by the one guest; its page names it; both leases end.
  private void useAndRelease(FarmClient client) throws Exception {
    CompletableFuture<ServiceAccess> second = CompletableFuture.supplyAsync(() -> request(client));
    ServiceAccess first = request(client);
    ServiceAccess other = second.get();
    requests += 2;
    noteArchives();
    String page = RealGuests.httpGet(first.endpoint(), PAGE_PATIENCE);
    if (!page.contains(first.vmId())) {
      throw new AssertionError("the guest's page does not name VM " + first.vmId() + ": " + page);
    }
    pagesServed++;
    client.releaseLease(first.lease().id());
    client.releaseLease(other.lease().id());
    releases += 2;
  }

  /**
   * A request, asked again with the same idempotency key while the farm answers that the guest is
   * still on its way (a boot under TCG on a busy machine can take longer than the farm waits
   * before answering): the repeat joins the same request, so no second lease or VM is made.
   */
  private ServiceAccess request(FarmClient client) {
    String key = UUID.randomUUID().toString();
    long deadline = System.nanoTime() + REQUEST_PATIENCE.toNanos();
    while (true) {
      try {
        return client.requestService(SERVICE, key, LEASE_TTL);
      } catch (FarmTimeoutException stillStarting) {
        if (System.nanoTime() > deadline) {
          throw stillStarting;
        }
        timeouts++;
      }
    }
  }

  // SLEEPING is passed on the way to ARCHIVED: either counts as asleep.
  private void awaitState(FarmClient client, VmState wanted) {
    Set<VmState> reached = wanted == VmState.VM_STATE_SLEEPING
        ? Set.of(VmState.VM_STATE_SLEEPING, VmState.VM_STATE_ARCHIVING, VmState.VM_STATE_ARCHIVED)
        : Set.of(VmState.VM_STATE_ARCHIVED);
    farm.awaitTrue(SERVICE + " " + wanted + " by the idle ladder", LADDER_PATIENCE,
        () -> client.listVms().stream().filter(v -> v.getDefinition().equals(SERVICE))
            .allMatch(v -> reached.contains(v.getState())));
  }

  // SIGKILL, as a crashed host agent: its guests stay in libvirt and are found again.
  private void restartAgent() throws Exception {
    farm.killAgent(hostId);
    farm.awaitTrue("the controller noticed host " + hostId + " is gone", Duration.ofSeconds(60),
        () -> farm.client().listHosts().stream()
            .noneMatch(h -> h.getId().equals(hostId) && h.getConnected()));
    farm.startAgent(hostId);
    farm.awaitConnected(List.of(hostId));
    agentRestarts++;
  }

  // Alternately killed and stopped; the new process warms up with a cycle before it is sampled.
  private void restartController(boolean kill) throws Exception {
    sampleEnd();
    if (kill) {
      farm.killController();
    } else {
      farm.stopController();
    }
    farm.startController();
    farm.awaitConnected(List.of(hostId));
    controllerRestarts++;
    useAndRelease(farm.client());
    sampleStart();
  }

  private void sampleStart() throws Exception {
    pid = farm.controllerPid();
    heapStart = ProcessFigures.heapAfterGcMib(pid);
    fdsStart = SoakChecks.openFileDescriptors(pid);
    sessionsStart = checks.databaseSessions();
  }

  private void sampleEnd() throws Exception {
    double heapEnd = ProcessFigures.heapAfterGcMib(pid);
    controllers.add(new ProcessSample(pid, heapStart, fdsStart, sessionsStart, heapEnd,
        SoakChecks.openFileDescriptors(pid), checks.databaseSessions()));
  }
}
