package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.servicefarm.api.v1.OperationPhase;
import org.servicefarm.api.v1.OperationUpdate;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.EventFilter;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.HostDomains;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.RealGuestTest;
import org.servicefarm.e2e.support.RealGuests;

/**
 * An agent SIGKILLed in the middle of a command, on real processes and real QEMU guests: during
 * an install (while the image travels, then while the guest boots), during an archive and during
 * a wake. Its guests outlive it in libvirtd; once it is restarted it reports its inventory and the
 * controller finishes what was under way. After each case: one VM for the service, one libvirt
 * domain for it, no orphan, and the lease-holding request served from inside the guest.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@RealGuestTest
class AgentCrashIntegrationTest {
  // A host id of its own, so domains of other farms sharing libvirtd are not counted.
  private static final String HOST = "crash-" + UUID.randomUUID().toString().substring(0, 6);
  private static final String SERVICE = "crash-web";
  // Served at the moment the request is answered: the agent answers a start only once the guest
  // says its port listens, kill or no kill. A little slack for the first TCP round trip.
  private static final Duration SERVED_AT_ONCE = Duration.ofSeconds(5);
  private static final Set<OperationPhase> INSTALL_UNDER_WAY = Set.of(
      OperationPhase.OPERATION_PHASE_TRANSFERRING, OperationPhase.OPERATION_PHASE_INSTALLING,
      OperationPhase.OPERATION_PHASE_BOOTING);

  private ProcessFarm farm;
  private FarmClient client;
  private String vmId;
  private final List<String> kills = new ArrayList<>();
  private int requests;

  @BeforeAll
  void startFarm() throws Exception {
    RealGuests.requireLibvirtd();
    farm = new ProcessFarm("qemu:///system");
    farm.startController();
    farm.startAgent(HOST);
    farm.awaitConnected(List.of(HOST));
    client = farm.client(Duration.ofMinutes(10));
    client.defineService(ServiceDefinition.newBuilder().setName(SERVICE)
        .addPackages("busybox").setCommand("busybox httpd -f -p 80 -h /srv/www").setPort(80)
        .setVcpus(1).setMemoryMb(256).build());
  }

  @AfterAll
  void stopFarm() throws IOException {
    if (farm != null) {
      keepLogs();
      farm.close();
    }
  }

  // The farm's directory goes with it; its logs stay in target/ to read after a failed run.
  private void keepLogs() throws IOException {
    Path kept = Files.createDirectories(Path.of("target", "agent-crash-logs", HOST));
    try (var logs = Files.list(farm.dir().resolve("logs"))) {
      for (Path log : logs.toList()) {
        Files.copy(log, kept.resolve(log.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  @Test
  @Order(1)
  void agentKilledDuringInstallAndBootLeavesOneGuestThatServes() throws Exception {
    long started = System.nanoTime();
    RequestServiceResponse accepted = client.requestServiceNoWait(SERVICE, "install-1");
    requests++;
    vmId = accepted.getVmId();
    // Follow the request; kill the agent once the install reaches the host.
    CompletableFuture<OperationPhase> killedIn = new CompletableFuture<>();
    CompletableFuture<OperationUpdate> outcome = CompletableFuture.supplyAsync(() ->
        client.watchOperation(accepted.getOperationId(), update -> {
          if (!killedIn.isDone() && INSTALL_UNDER_WAY.contains(update.getPhase())) {
            kill(() -> "install/" + phaseName(update.getPhase()));
            killedIn.complete(update.getPhase());
          }
        }));
    OperationPhase phase = killedIn.get(5, TimeUnit.MINUTES);
    restartAgent();
    // Second kill: once installed, while the guest boots and the agent waits for it to listen.
    farm.awaitTrue("VM " + vmId + " installed and booting", Duration.ofSeconds(120),
        () -> vm().getState() == VmState.VM_STATE_STARTING && domainState().equals("running"));
    kill(() -> "install/boot");
    restartAgent();
    OperationUpdate first = outcome.get(3, TimeUnit.MINUTES);
    // The first answer may be a failure naming the lost agent; the same key must then succeed.
    ServiceAccess access = client.requestService(SERVICE, "install-1");
    requests++;
    assertEquals(vmId, access.vmId(), "the retried request got the VM its first attempt chose");
    assertTrue(RealGuests.httpGet(access.endpoint(), SERVED_AT_ONCE).contains(vmId));
    assertOneVmOneDomainNoOrphan();
    figures("install", "killed in " + phaseName(phase) + " then in boot; first answer: "
        + describe(first), started);
  }

  @Test
  @Order(2)
  void agentKilledDuringArchiveLeavesTheVmArchivedAndRestorable() throws Exception {
    long started = System.nanoTime();
    CompletableFuture<String> archiving = outcomeOf(() -> client.archiveVm(vmId, true).getState().name());
    // Polled tightly: the whole archive of a small overlay takes about a second.
    pollUntil("VM " + vmId + " ARCHIVING", archiving,
        () -> vm().getState() == VmState.VM_STATE_ARCHIVING);
    // The agent compresses the overlay into upload.gz and streams it to the controller: a kill
    // then leaves a partial file on the host and a partial blob at the controller. Watched with a
    // file check, far quicker than the fraction of a second the upload takes; the reference file
    // appears once the upload is complete, and then the kill came too late.
    Path archiveDir = farm.dir().resolve("agent-" + HOST).resolve("archives").resolve(vmId);
    Path upload = archiveDir.resolve("upload.gz");
    pollUntil("the archive's upload under way", archiving,
        () -> Files.exists(upload) || Files.exists(archiveDir.resolve("ref")));
    // Asked after the kill: the upload may have completed in the meantime.
    String landed = kill(() -> "archive/"
        + (Files.exists(archiveDir.resolve("ref")) ? "after upload" : "upload"));
    restartAgent();
    farm.awaitTrue("VM " + vmId + " ARCHIVED after the agent came back", Duration.ofSeconds(90),
        () -> vm().getState() == VmState.VM_STATE_ARCHIVED);
    assertEquals(List.of(), HostDomains.of(HOST), "an archived VM leaves no domain on its host");
    ServiceAccess restored = client.requestService(SERVICE, "restore-1");
    requests++;
    assertEquals(vmId, restored.vmId());
    assertTrue(RealGuests.httpGet(restored.endpoint(), SERVED_AT_ONCE).contains(vmId));
    // Each boot appends a line on the guest's disk: two boots mean the archive held the disk.
    String boots = RealGuests.httpGet(restored.endpoint(), "/boots.txt", SERVED_AT_ONCE);
    assertEquals(2, boots.lines().filter(l -> l.startsWith("boot ")).count(), boots);
    assertOneVmOneDomainNoOrphan();
    figures("archive", "killed in " + landed + "; archive call: "
        + archiving.get(2, TimeUnit.MINUTES), started);
  }

  @Test
  @Order(3)
  void agentKilledDuringWakeLeavesTheGuestActiveAndTheRequestServed() throws Exception {
    long started = System.nanoTime();
    assertEquals(VmState.VM_STATE_SLEEPING, client.suspendVm(vmId, true).getState());
    RequestServiceResponse accepted = client.requestServiceNoWait(SERVICE, "wake-1");
    requests++;
    assertEquals(vmId, accepted.getVmId(), "a sleeping VM is woken, not a new one built");
    // libvirt is restoring the saved memory once the domain is no longer shut off.
    long waitUntil = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (domainState().equals("shut off") && System.nanoTime() < waitUntil) {
      Thread.sleep(20);
    }
    String landed = kill(() -> "wake/domain " + domainState());
    restartAgent();
    ServiceAccess woken = client.requestService(SERVICE, "wake-1");
    requests++;
    assertEquals(vmId, woken.vmId());
    assertEquals(VmState.VM_STATE_ACTIVE, vm().getState());
    assertTrue(vm().getLeases() >= 1, "the woken VM holds the request's lease");
    assertTrue(RealGuests.httpGet(woken.endpoint(), SERVED_AT_ONCE).contains(vmId));
    assertOneVmOneDomainNoOrphan();
    figures("wake", "killed in " + landed, started);
  }

  @Test
  @Order(4)
  void summary() throws Exception {
    List<Vm> vms = client.listVms().stream().filter(v -> v.getDefinition().equals(SERVICE)).toList();
    long notActive = vms.stream().filter(v -> v.getLeases() > 0)
        .filter(v -> v.getState() != VmState.VM_STATE_ACTIVE).count();
    // A second VM row for the service, or a second domain on the host, is a duplicate.
    int duplicates = Math.max(0, vms.size() - 1) + Math.max(0, HostDomains.of(HOST).size() - 1);
    System.out.printf("agent crash: kills=%d (%s), requests=%d, duplicate VMs: %d, orphans: %d,"
        + " lease-holding VMs not ACTIVE: %d, half-written files: %d%n", kills.size(),
        String.join(", ", kills), requests, duplicates, orphanEvents(), notActive,
        halfWrittenFiles().size());
    assertEquals(0, duplicates);
    assertEquals(0, notActive);
  }

  // --- helpers ---

  /** SIGKILLs the agent; {@code where} is asked after the kill, so it says where it landed. */
  private String kill(Supplier<String> where) {
    try {
      farm.killAgent(HOST);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted killing the agent", e);
    }
    String landed = where.get();
    kills.add(landed);
    return landed;
  }

  private void restartAgent() throws Exception {
    farm.awaitTrue("the controller noticed host " + HOST + " is gone", Duration.ofSeconds(30),
        () -> client.listHosts().stream().noneMatch(h -> h.getId().equals(HOST) && h.getConnected()));
    farm.startAgent(HOST);
    farm.awaitConnected(List.of(HOST));
  }

  private void assertOneVmOneDomainNoOrphan() throws Exception {
    List<Vm> vms = client.listVms().stream().filter(v -> v.getDefinition().equals(SERVICE)).toList();
    assertEquals(1, vms.size(), "one VM for the service: " + vms);
    assertEquals(List.of("sf-" + vmId), HostDomains.of(HOST), "one libvirt domain for it");
    assertEquals(0, orphanEvents(), "no domain the table does not know");
    assertEquals(List.of(), halfWrittenFiles(), "no cut transfer left behind");
  }

  /**
   * Files a cut transfer leaves: image downloads ({@code .partial}) and archive uploads
   * ({@code upload.gz}) on the host, blobs being received ({@code .part}) at the controller.
   * A resent command finishes or replaces them; none may outlive the case.
   */
  private List<Path> halfWrittenFiles() throws IOException {
    List<Path> found = new ArrayList<>();
    for (Path root : List.of(farm.dir().resolve("agent-" + HOST),
        farm.dir().resolve("controller").resolve("blobs"))) {
      try (var files = Files.walk(root)) {
        files.filter(f -> {
          String name = f.getFileName().toString();
          return name.endsWith(".partial") || name.endsWith(".part") || name.equals("upload.gz");
        }).forEach(found::add);
      }
    }
    return found;
  }

  private long orphanEvents() {
    return client.listEvents(EventFilter.any().onHost(HOST).limit(1000)).stream()
        .filter(e -> e.getKind().equals("ORPHAN")).count();
  }

  private Vm vm() {
    return client.getVm(vmId);
  }

  private String domainState() {
    try {
      return HostDomains.state("sf-" + vmId);
    } catch (IOException e) {
      throw new AssertionError("cannot ask virsh about sf-" + vmId, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted asking virsh", e);
    }
  }

  /** Polls every millisecond for up to 30 s; fails at once if {@code call} failed meanwhile. */
  private static void pollUntil(String what, CompletableFuture<String> call,
      java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!condition.getAsBoolean()) {
      if (call.isCompletedExceptionally()) {
        call.join(); // throws what the call threw
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after 30 s waiting for " + what
            + (call.isDone() ? "; the call answered " + call.join() : ""));
      }
      Thread.sleep(1);
    }
  }

  /** Runs a farm call on another thread; its answer or the farm's refusal, as text. */
  private static CompletableFuture<String> outcomeOf(Supplier<String> call) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return call.get();
      } catch (FarmException refused) {
        return "refused: " + refused.getMessage();
      }
    });
  }

  private static String describe(OperationUpdate last) {
    return last.hasResult() ? "READY" : "FAILED (" + last.getError() + ")";
  }

  private static String phaseName(OperationPhase phase) {
    return phase.name().substring("OPERATION_PHASE_".length()).toLowerCase(java.util.Locale.ROOT);
  }

  private void figures(String name, String detail, long startedNanos) throws Exception {
    System.out.printf("agent crash %s: %s; %.1f s, VMs: 1, domains on host: %d, orphans: %d%n",
        name, detail, (System.nanoTime() - startedNanos) / 1e9, HostDomains.of(HOST).size(),
        orphanEvents());
  }
}
