package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.servicefarm.api.v1.Event;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.EventFilter;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmTimeoutException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.HostDomains;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.RealGuestTest;
import org.servicefarm.e2e.support.RealGuests;

/**
 * Faults below the farm's processes, on real QEMU guests: a domain undefined while the agent is
 * down, QEMU killed, the saved memory image deleted or corrupted, the host's state directory
 * wiped (with an archive, without one, and for a stateless definition). Each composed guest
 * appends a line to its own {@code /boots.txt} at every boot, so what the guest serves after a
 * case proves which disk it runs on. One summary line per case: outcome, data kept or the window
 * lost, time to recover.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@RealGuestTest
class DiskFaultIntegrationTest {
  private static final String HOST = "disk-" + UUID.randomUUID().toString().substring(0, 6);
  private static final String WEB = "fault-web";
  private static final String KEPT = "fault-kept";
  private static final String STATELESS = "fault-stateless";
  private static final Duration PATIENCE = Duration.ofSeconds(90);
  private static final Path MANAGED_SAVE_DIR = Path.of("/var/lib/libvirt/qemu/save");

  private ProcessFarm farm;
  private FarmClient client;
  private String webVm;

  @BeforeAll
  void startFarm() throws Exception {
    RealGuests.requireLibvirtd();
    farm = new ProcessFarm("qemu:///system");
    farm.startController();
    farm.startAgent(HOST);
    farm.awaitConnected(List.of(HOST));
    client = farm.client(Duration.ofMinutes(10));
    for (String name : List.of(WEB, KEPT, STATELESS)) {
      // The same packages and command: one composed image serves all three.
      client.defineService(ServiceDefinition.newBuilder().setName(name)
          .addPackages("busybox").setCommand("busybox httpd -f -p 80 -h /srv/www").setPort(80)
          .setVcpus(1).setMemoryMb(256).setStateless(name.equals(STATELESS)).build());
    }
  }

  @AfterAll
  void stopFarm() throws IOException {
    if (farm != null) {
      Path kept = Files.createDirectories(Path.of("target", "disk-fault-logs", HOST));
      try (var logs = Files.list(farm.dir().resolve("logs"))) {
        for (Path log : logs.toList()) {
          Files.copy(log, kept.resolve(log.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
      }
      farm.close();
    }
  }

  @Test
  @Order(1)
  void domainUndefinedWhileTheAgentIsDownIsDefinedAgainOnItsDisk() throws Exception {
    ServiceAccess first = request(WEB, "web-1");
    webVm = first.vmId();
    List<String> before = boots(first);
    assertEquals(1, before.size(), before.toString());

    farm.stopAgent(HOST);
    virsh("destroy", "sf-" + webVm);
    virsh("undefine", "--managed-save", "sf-" + webVm);
    assertTrue(Files.isRegularFile(disk(webVm)), "the overlay stays on the host");
    long started = System.nanoTime();
    farm.startAgent(HOST);
    ServiceAccess back = request(WEB, "web-2");
    // Served once the guest answers: the table may still show it ACTIVE for a moment.
    List<String> after = boots(back);
    double recovered = since(started);

    assertEquals(webVm, back.vmId(), "the same VM, not a new one");
    assertEquals(before, after.subList(0, before.size()), "the disk kept its boot record");
    assertEquals(before.size() + 1, after.size(), after.toString());
    assertTrue(causes(webVm).stream().anyMatch(c -> c.contains("defining it again on its disk")));
    report("domain undefined, agent down", "ACTIVE on its disk", "kept " + after.size()
        + " boots", recovered);
  }

  @Test
  @Order(2)
  void qemuKilledRestartsTheGuestOnItsDisk() throws Exception {
    requireWebVm();
    List<String> before = boots(request(WEB, "web-3"));
    long started = System.nanoTime();
    virsh("destroy", "sf-" + webVm); // SIGTERM, then SIGKILL, to the guest's QEMU
    farm.awaitTrue("the guest booted again", Duration.ofMinutes(3), () -> {
      try {
        return HostDomains.state("sf-" + webVm).equals("running")
            && client.getVm(webVm).getState() == VmState.VM_STATE_ACTIVE
            && bootsNow(webVm).size() == before.size() + 1;
      } catch (IOException | InterruptedException | AssertionError notYet) {
        return false;
      }
    });
    double recovered = since(started);
    List<String> after = bootsNow(webVm);
    assertEquals(before, after.subList(0, before.size()));
    report("QEMU killed", "ACTIVE on its disk", "kept " + after.size() + " boots", recovered);
  }

  @Test
  @Order(3)
  void aMissingSavedMemoryImageWakesTheGuestByBootingFromItsDisk() throws Exception {
    wakeWithoutMemory("saved memory image deleted", save -> Files.delete(save), "was missing");
  }

  @Test
  @Order(4)
  void aCorruptSavedMemoryImageWakesTheGuestByBootingFromItsDisk() throws Exception {
    wakeWithoutMemory("saved memory image corrupted",
        save -> Files.write(save, new byte[64 * 1024]), "could not be restored");
  }

  @Test
  @Order(5)
  void aWipedStateDirectoryRestoresTheVmFromItsNewestArchive() throws Exception {
    requireWebVm();
    assertEquals(VmState.VM_STATE_ARCHIVED, client.archiveVm(webVm, true).getState());
    ServiceAccess restored = request(WEB, "web-archive");
    List<String> beforeWipe = boots(restored);
    // The boot after the restore was written after the archive was made: the wipe loses it.
    String writtenSinceArchive = beforeWipe.get(beforeWipe.size() - 1);

    farm.stopAgent(HOST);
    virsh("destroy", "sf-" + webVm); // the host went down with its disk
    deleteTree(farm.dir().resolve("agent-" + HOST));
    long started = System.nanoTime();
    farm.startAgent(HOST);
    ServiceAccess back = request(WEB, "web-wiped");
    List<String> after = boots(back);
    double recovered = since(started);

    assertEquals(webVm, back.vmId());
    assertEquals(beforeWipe.subList(0, beforeWipe.size() - 1), after.subList(0, after.size() - 1),
        "the archive's boot record came back");
    assertFalse(after.contains(writtenSinceArchive), "what was written after the archive is lost");
    String event = causes(webVm).stream().filter(c -> c.contains("newest archive")).findFirst()
        .orElseThrow(() -> new AssertionError("no event names the restore: " + causes(webVm)));
    assertTrue(event.contains("since then is lost"), event);
    report("state directory wiped, archive", "restored from archive", "window lost: "
        + event.substring(event.indexOf("what it wrote")), recovered);
  }

  @Test
  @Order(6)
  void aLostDiskWithoutArchiveFailsTheVmUnlessItsDefinitionIsStateless() throws Exception {
    ServiceAccess kept = request(KEPT, "kept-1");
    ServiceAccess stateless = request(STATELESS, "stateless-1");
    assertEquals(1, boots(stateless).size());

    farm.stopAgent(HOST);
    for (String vm : List.of(kept.vmId(), stateless.vmId())) {
      virsh("destroy", "sf-" + vm);
      virsh("undefine", "--managed-save", "sf-" + vm);
      Files.delete(disk(vm));
    }
    long started = System.nanoTime();
    farm.startAgent(HOST);
    farm.awaitTrue("VM " + kept.vmId() + " FAILED", Duration.ofMinutes(3),
        () -> client.getVm(kept.vmId()).getState() == VmState.VM_STATE_FAILED);
    double failedAfter = since(started);
    String reason = client.getVm(kept.vmId()).getFailureReason();
    assertTrue(reason.contains("disk lost") && reason.contains("no archive"), reason);
    assertFalse(Files.exists(disk(kept.vmId())), "no new disk laid in its place");
    report("disk lost, no archive", "FAILED: " + reason, "all data lost, said so", failedAfter);

    ServiceAccess reinstalled = request(STATELESS, "stateless-2");
    double reinstalledAfter = since(started);
    assertEquals(stateless.vmId(), reinstalled.vmId());
    assertEquals(1, boots(reinstalled).size(), "a fresh disk from the image");
    assertTrue(causes(stateless.vmId()).stream()
        .anyMatch(c -> c.contains("new disk from its image") && c.contains("stateless")));
    report("disk lost, stateless", "reinstalled from its image", "disk fresh by definition",
        reinstalledAfter);
  }

  // --- helpers ---

  @FunctionalInterface
  private interface SaveFault {
    void apply(Path managedSave) throws IOException;
  }

  private void wakeWithoutMemory(String name, SaveFault fault, String said) throws Exception {
    requireWebVm();
    List<String> before = boots(request(WEB, "web-" + name.hashCode()));
    assertEquals(VmState.VM_STATE_SLEEPING, client.suspendVm(webVm, true).getState());
    Path save = MANAGED_SAVE_DIR.resolve("sf-" + webVm + ".save");
    assertTrue(Files.isRegularFile(save), "libvirt keeps the saved memory in " + save);
    fault.apply(save);
    long started = System.nanoTime();
    ServiceAccess woken = request(WEB, "wake-" + name.hashCode());
    double recovered = since(started);
    assertEquals(webVm, woken.vmId());
    List<String> after = boots(woken);
    assertEquals(before, after.subList(0, before.size()), "the disk is kept");
    assertEquals(before.size() + 1, after.size(), "booted, not restored: " + after);
    assertTrue(causes(webVm).stream().anyMatch(c -> c.contains("woken without its memory")
        && c.contains(said)), causes(webVm).toString());
    report(name, "ACTIVE, booted from its disk", "memory lost, kept " + after.size() + " boots",
        recovered);
  }

  /**
   * Requests the service, asking again with the same key while the farm is still at it: the
   * client's deadline (90 s) is shorter than a first image build plus a boot under TCG.
   */
  private ServiceAccess request(String service, String key) {
    long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
    while (true) {
      try {
        return client.requestService(service, key);
      } catch (FarmTimeoutException stillWorking) {
        if (System.nanoTime() > deadline) {
          throw stillWorking;
        }
      }
    }
  }

  private void requireWebVm() {
    Assumptions.assumeTrue(webVm != null, "the first case made no VM to work on");
  }

  private List<String> boots(ServiceAccess access) throws InterruptedException {
    return RealGuests.httpGet(access.endpoint(), "/boots.txt", PATIENCE).lines()
        .filter(l -> l.startsWith("boot ")).toList();
  }

  /** The boot record of the VM's current endpoint, without waiting for it to serve. */
  private List<String> bootsNow(String vmId) throws InterruptedException {
    var access = client.getVm(vmId).getAccess(0);
    String endpoint = access.getHost() + ":" + access.getPort();
    return RealGuests.httpGet(endpoint, "/boots.txt", Duration.ofSeconds(2)).lines()
        .filter(l -> l.startsWith("boot ")).toList();
  }

  private List<String> causes(String vmId) {
    return client.listEvents(EventFilter.any().forVm(vmId).limit(1000)).stream()
        .map(Event::getCause).toList();
  }

  private Path disk(String vmId) {
    return farm.dir().resolve("agent-" + HOST).resolve("disks").resolve(vmId + ".qcow2");
  }

  private void report(String fault, String outcome, String data, double seconds) {
    String line = String.format("disk fault %s: %s; %s; recovered in %.1f s", fault, outcome, data,
        seconds);
    System.out.println(line);
  }

  private static double since(long startedNanos) {
    return (System.nanoTime() - startedNanos) / 1e9;
  }

  private static void virsh(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("virsh", "-q", "-c", "qemu:///system"));
    command.addAll(List.of(args));
    RealGuests.run(command.toArray(String[]::new));
  }

  private static void deleteTree(Path root) throws IOException {
    try (var files = Files.walk(root)) {
      for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
