package org.servicefarm.agent.hypervisor.libvirt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.agent.hypervisor.DomainSpec;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.agent.hypervisor.HypervisorKind;
import org.servicefarm.agent.hypervisor.storage.PathOnlyDiskStore;
import org.servicefarm.agent.hypervisor.storage.VmArchives;
import org.servicefarm.agent.images.BlobDigest;
import org.servicefarm.agent.images.FakeImageStoreForTest;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.ImageRef;
import org.servicefarm.api.v1.PortForward;
import org.servicefarm.api.v1.PowerState;

/**
 * Runs against libvirt's test driver, with archives going to an in-process image store. Every
 * test:///default connection in this JVM shares one simulated libvirtd, so each test uses VM ids
 * of its own; tests of several hosts on one libvirtd share one connection to a private node.
 */
class LibvirtHypervisorTest {

  private static final ImageRef IMAGE = ImageRef.newBuilder().setName("static-web").build();

  @TempDir
  Path stateDir;

  private final List<LibvirtHypervisor> opened = new ArrayList<>();
  private FakeImageStoreForTest store;
  private LibvirtHypervisor hypervisor;

  @BeforeEach
  void openHypervisor() throws Exception {
    store = FakeImageStoreForTest.started();
    hypervisor = newHypervisor("host-1", new LibvirtConnection("test:///default"), stateDir);
  }

  @AfterEach
  void closeHypervisors() throws Exception {
    opened.forEach(LibvirtHypervisor::close);
    store.close();
  }

  /** An agent's view of a host: its host id, a connection and a state dir. */
  private LibvirtHypervisor newHypervisor(String hostId, LibvirtConnection connection, Path state) {
    var created = new LibvirtHypervisor(connection,
        new HostSettings(hostId, HypervisorKind.TEST, "127.0.0.1"), new PathOnlyDiskStore(state),
        new VmArchives(state, store.transfers()),
        new HostPortAllocator(HostPortAllocator.DEFAULT_FIRST_PORT,
            HostPortAllocator.DEFAULT_LAST_PORT));
    opened.add(created);
    return created;
  }

  /** A libvirt test driver node of its own, empty, not shared with test:///default. */
  private LibvirtConnection privateNode() throws Exception {
    Path node = stateDir.resolve("node-" + UUID.randomUUID() + ".xml");
    Files.writeString(node, "<node/>");
    return new LibvirtConnection("test://" + node.toAbsolutePath());
  }

  private static String uniqueVmId(String label) {
    return label + "-" + UUID.randomUUID();
  }

  private static DomainSpec spec(String vmId, long generation, Integer... guestPorts) {
    return new DomainSpec(vmId, generation, IMAGE, 1, 128, List.of(guestPorts));
  }

  private static Map<String, DomainStatus> byVmId(List<DomainStatus> inventory) {
    return inventory.stream().collect(Collectors.toMap(DomainStatus::getVmId, status -> status));
  }

  @Test
  void wholeLifecycleWorksAndEveryStepCanBeRepeated() throws Exception {
    String vmId = uniqueVmId("life");

    DomainStatus installed = hypervisor.install(spec(vmId, 1, 80));
    assertEquals(PowerState.POWER_STATE_SHUT_OFF, installed.getPower());
    assertEquals(1, installed.getPortsCount());
    int hostPort = installed.getPorts(0).getHostPort();
    assertTrue(hostPort >= 20000 && hostPort <= 29999, "host port " + hostPort);
    assertEquals(installed, hypervisor.install(spec(vmId, 1, 80)));

    for (int i = 0; i < 2; i++) {
      assertEquals(PowerState.POWER_STATE_RUNNING, hypervisor.start(vmId, 1).getPower());
    }
    for (int i = 0; i < 2; i++) {
      assertEquals(PowerState.POWER_STATE_SAVED, hypervisor.suspend(vmId, 2).getPower());
    }
    for (int i = 0; i < 2; i++) {
      assertEquals(PowerState.POWER_STATE_RUNNING, hypervisor.resume(vmId, 3).getPower());
    }

    String archiveRef = hypervisor.archive(vmId, 4);
    assertTrue(archiveRef.startsWith("sha256:"), archiveRef);
    assertTrue(store.holds(BlobDigest.fromArchiveRef(archiveRef).hex()),
        "the archive never reached the image store");
    assertEquals(archiveRef, hypervisor.archive(vmId, 4), "repeated archive answered another ref");
    assertTrue(hypervisor.status(vmId).isEmpty(), "archived VM still has a domain");
    assertFalse(byVmId(hypervisor.inventory()).containsKey(vmId));

    DomainStatus restored = hypervisor.restore(archiveRef, spec(vmId, 5, 80));
    assertEquals(PowerState.POWER_STATE_SHUT_OFF, restored.getPower());
    assertEquals(hostPort, restored.getPorts(0).getHostPort(), "restore kept the free host port");
    assertEquals(5, restored.getGeneration());
    assertEquals(restored, hypervisor.restore(archiveRef, spec(vmId, 5, 80)));
    assertEquals(PowerState.POWER_STATE_RUNNING, hypervisor.start(vmId, 6).getPower());

    hypervisor.delete(vmId);
    hypervisor.delete(vmId);
    assertTrue(hypervisor.status(vmId).isEmpty(), "deleted VM still has a domain");
    assertFalse(byVmId(hypervisor.inventory()).containsKey(vmId));
  }

  @Test
  void anotherAgentOnTheSameHostSeesTheSameVmsWithTheSamePorts() throws Exception {
    String running = uniqueVmId("restart-a");
    String sleeping = uniqueVmId("restart-b");
    hypervisor.install(spec(running, 3, 80, 443));
    hypervisor.start(running, 3);
    hypervisor.install(spec(sleeping, 1, 6379));
    hypervisor.start(sleeping, 1);
    hypervisor.suspend(sleeping, 2);
    Map<String, DomainStatus> before = byVmId(hypervisor.inventory());

    Map<String, DomainStatus> after = byVmId(
        newHypervisor("host-1", new LibvirtConnection("test:///default"), stateDir).inventory());

    assertEquals(before.get(running), after.get(running));
    assertEquals(before.get(sleeping), after.get(sleeping));
    assertEquals(PowerState.POWER_STATE_RUNNING, after.get(running).getPower());
    assertEquals(2, after.get(running).getPortsCount());
    assertEquals(PowerState.POWER_STATE_SAVED, after.get(sleeping).getPower());
    assertEquals(2, after.get(sleeping).getGeneration());
    assertFalse(after.containsKey("test"), "the test driver's own domain is not a farm VM");
    hypervisor.delete(running);
    hypervisor.delete(sleeping);
  }

  @Test
  void hostsSharingOneLibvirtdEachSeeAndTouchOnlyTheirOwnVms() throws Exception {
    LibvirtConnection shared = privateNode();
    LibvirtHypervisor hostA = newHypervisor("host-a", shared, stateDir.resolve("a"));
    LibvirtHypervisor hostB = newHypervisor("host-b", shared, stateDir.resolve("b"));
    String onA = uniqueVmId("on-a");
    String onB = uniqueVmId("on-b");
    int portOnA = hostA.install(spec(onA, 1, 80)).getPorts(0).getHostPort();
    int portOnB = hostB.install(spec(onB, 1, 80)).getPorts(0).getHostPort();
    hostB.start(onB, 1);

    assertEquals(List.of(onA), hostA.inventory().stream().map(DomainStatus::getVmId).toList());
    assertEquals(List.of(onB), hostB.inventory().stream().map(DomainStatus::getVmId).toList());
    assertTrue(hostA.status(onB).isEmpty(), "host-a reports a VM of host-b");
    assertEquals(portOnA, portOnB, "host ports of another host's VMs were held against this one");
    var e = assertThrows(HypervisorException.class, () -> hostA.start(onB, 2));
    assertEquals(HypervisorException.Kind.NOT_FOUND, e.kind());

    hostA.delete(onB); // not host-a's VM: nothing of host-b's may go
    assertEquals(PowerState.POWER_STATE_RUNNING, hostB.status(onB).orElseThrow().getPower());
  }

  @Test
  void vmArchivedOnOneHostIsRestoredOnAnotherThroughTheImageStore() throws Exception {
    LibvirtConnection shared = privateNode();
    LibvirtHypervisor hostA = newHypervisor("host-a", shared, stateDir.resolve("a"));
    LibvirtHypervisor hostB = newHypervisor("host-b", shared, stateDir.resolve("b"));
    String vmId = uniqueVmId("travels");
    hostA.install(spec(vmId, 1, 80, 443));
    hostA.start(vmId, 1);

    String archiveRef = hostA.archive(vmId, 2);
    DomainStatus restored = hostB.restore(archiveRef, spec(vmId, 3));

    assertEquals(3, restored.getGeneration());
    assertEquals(List.of(80, 443),
        restored.getPortsList().stream().map(PortForward::getGuestPort).toList(),
        "restore without guest ports did not take them from the archive");
    assertEquals(List.of(vmId), hostB.inventory().stream().map(DomainStatus::getVmId).toList());
    assertTrue(hostA.inventory().isEmpty(), "host-a still reports the VM it archived");
    assertEquals(PowerState.POWER_STATE_RUNNING, hostB.start(vmId, 4).getPower());
  }

  @Test
  void vmsInstalledSideBySideGetDifferentHostPorts() throws Exception {
    String first = uniqueVmId("ports-a");
    String second = uniqueVmId("ports-b");
    List<PortForward> a = hypervisor.install(spec(first, 1, 80, 443)).getPortsList();
    List<PortForward> b = hypervisor.install(spec(second, 1, 80, 443)).getPortsList();

    var hostPorts = new HashSet<Integer>();
    a.forEach(forward -> hostPorts.add(forward.getHostPort()));
    b.forEach(forward -> hostPorts.add(forward.getHostPort()));
    assertEquals(4, hostPorts.size(), "host ports shared between VMs: " + a + " " + b);
    hypervisor.delete(first);
    hypervisor.delete(second);
  }

  @Test
  void commandsForVmsThatAreNotHereNameTheVmAndSayNotFound() {
    String vmId = uniqueVmId("absent");
    var start = assertThrows(HypervisorException.class, () -> hypervisor.start(vmId, 1));
    assertTrue(start.getMessage().contains(vmId), start.getMessage());
    assertEquals(HypervisorException.Kind.NOT_FOUND, start.kind());
    var archive = assertThrows(HypervisorException.class, () -> hypervisor.archive(vmId, 1));
    assertTrue(archive.getMessage().contains(vmId), archive.getMessage());
    assertEquals(HypervisorException.Kind.NOT_FOUND, archive.kind());
  }

  @Test
  void restoreFromAnArchiveTheStoreDoesNotHoldIsAnImageFailure() {
    String vmId = uniqueVmId("lost");
    String missing = new BlobDigest("0".repeat(64)).archiveRef();
    var e = assertThrows(HypervisorException.class,
        () -> hypervisor.restore(missing, spec(vmId, 1, 80)));
    assertEquals(HypervisorException.Kind.IMAGE, e.kind());
    assertTrue(e.getMessage().contains(vmId) && e.getMessage().contains(missing), e.getMessage());

    var malformed = assertThrows(HypervisorException.class,
        () -> hypervisor.restore("/var/lib/archive/" + vmId, spec(vmId, 1, 80)));
    assertEquals(HypervisorException.Kind.INVALID, malformed.kind());
  }

  @Test
  void domainWithAFarmNameButNoFarmMetadataIsLeftAlone() throws Exception {
    String vmId = uniqueVmId("foreign");
    var connection = new LibvirtConnection("test:///default");
    try {
      connection.get().domainDefineXML("<domain type='test'><name>sf-" + vmId + "</name>"
          + "<memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>");
      var e = assertThrows(HypervisorException.class, () -> hypervisor.delete(vmId));
      assertTrue(e.getMessage().contains("leaves it alone"), e.getMessage());
      assertFalse(byVmId(hypervisor.inventory()).containsKey(vmId));
      connection.get().domainLookupByName("sf-" + vmId).undefine();
    } finally {
      connection.close();
    }
  }

  @Test
  void restoreRefusesAnArchiveOfAnotherVmAndDeleteForgetsTheArchive() throws Exception {
    String archived = uniqueVmId("arch-a");
    hypervisor.install(spec(archived, 1, 80));
    String archiveRef = hypervisor.archive(archived, 1);

    String other = uniqueVmId("arch-b");
    var e = assertThrows(HypervisorException.class,
        () -> hypervisor.restore(archiveRef, spec(other, 1, 80)));
    assertTrue(e.getMessage().contains(archived) && e.getMessage().contains(other), e.getMessage());
    assertEquals(HypervisorException.Kind.INVALID, e.kind());
    assertTrue(hypervisor.status(other).isEmpty(), "a refused restore defined a domain");

    hypervisor.delete(archived);
    var gone = assertThrows(HypervisorException.class, () -> hypervisor.archive(archived, 2));
    assertEquals(HypervisorException.Kind.NOT_FOUND, gone.kind(), "delete kept the archive ref");
    assertFalse(Files.exists(stateDir.resolve("archives").resolve(archived)),
        "delete left archive files behind");
  }
}
