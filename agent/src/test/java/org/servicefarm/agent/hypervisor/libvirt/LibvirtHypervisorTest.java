package org.servicefarm.agent.hypervisor.libvirt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
import org.servicefarm.agent.hypervisor.storage.ArchiveStore;
import org.servicefarm.agent.hypervisor.storage.PathOnlyDiskStore;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.ImageRef;
import org.servicefarm.api.v1.PortForward;
import org.servicefarm.api.v1.PowerState;

/**
 * Runs against libvirt's test driver. Every test:///default connection in this JVM shares one
 * simulated host, so each test uses VM ids of its own.
 */
class LibvirtHypervisorTest {

  private static final ImageRef IMAGE = ImageRef.newBuilder().setName("static-web").build();

  @TempDir
  Path stateDir;

  private final List<LibvirtHypervisor> opened = new ArrayList<>();
  private LibvirtHypervisor hypervisor;

  @BeforeEach
  void openHypervisor() {
    hypervisor = newHypervisor();
  }

  @AfterEach
  void closeHypervisors() {
    opened.forEach(LibvirtHypervisor::close);
  }

  /** A fresh agent's view of the host: new connection, same state dir. */
  private LibvirtHypervisor newHypervisor() {
    var created = new LibvirtHypervisor(new LibvirtConnection("test:///default"),
        HypervisorKind.TEST, new PathOnlyDiskStore(stateDir),
        new ArchiveStore(stateDir.resolve("archive")),
        new HostPortAllocator(HostPortAllocator.DEFAULT_FIRST_PORT,
            HostPortAllocator.DEFAULT_LAST_PORT));
    opened.add(created);
    return created;
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
    assertTrue(archiveRef.startsWith(stateDir.resolve("archive").toString()), archiveRef);
    assertEquals(archiveRef, hypervisor.archive(vmId, 4));
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

    Map<String, DomainStatus> after = byVmId(newHypervisor().inventory());

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
  void vmsInstalledSideBySideGetDifferentHostPorts() throws Exception {
    String first = uniqueVmId("ports-a");
    String second = uniqueVmId("ports-b");
    List<PortForward> a = hypervisor.install(spec(first, 1, 80, 443)).getPortsList();
    List<PortForward> b = hypervisor.install(spec(second, 1, 80, 443)).getPortsList();

    var hostPorts = new java.util.HashSet<Integer>();
    a.forEach(forward -> hostPorts.add(forward.getHostPort()));
    b.forEach(forward -> hostPorts.add(forward.getHostPort()));
    assertEquals(4, hostPorts.size(), "host ports shared between VMs: " + a + " " + b);
    hypervisor.delete(first);
    hypervisor.delete(second);
  }

  @Test
  void archiveCompressesAnExistingDiskAndRestoreBringsItBack() throws Exception {
    String vmId = uniqueVmId("disk");
    hypervisor.install(spec(vmId, 1));
    Path disk = new PathOnlyDiskStore(stateDir).diskPath(vmId);
    Files.createDirectories(disk.getParent());
    byte[] content = "qcow2 bytes of the guest".repeat(1000).getBytes();
    Files.write(disk, content);

    Path archive = Path.of(hypervisor.archive(vmId, 1));
    assertFalse(Files.exists(disk), "disk left behind after archiving");
    assertTrue(Files.size(archive.resolve("disk.qcow2.gz")) < content.length,
        "disk not compressed");
    assertTrue(Files.readString(archive.resolve("metadata.xml")).contains(vmId));

    hypervisor.restore(archive.toString(), spec(vmId, 2));
    assertArrayEquals(content, Files.readAllBytes(disk));
    assertFalse(Files.exists(archive), "archive kept after restore");

    hypervisor.delete(vmId);
    assertFalse(Files.exists(disk), "disk left behind after delete");
  }

  @Test
  void commandsForVmsThatAreNotHereNameTheVm() {
    String vmId = uniqueVmId("absent");
    var start = assertThrows(HypervisorException.class, () -> hypervisor.start(vmId, 1));
    assertTrue(start.getMessage().contains(vmId), start.getMessage());
    var archive = assertThrows(HypervisorException.class, () -> hypervisor.archive(vmId, 1));
    assertTrue(archive.getMessage().contains(vmId), archive.getMessage());
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
  void restoreRefusesAnArchiveOfAnotherVm() throws Exception {
    String archived = uniqueVmId("arch-a");
    hypervisor.install(spec(archived, 1, 80));
    String archiveRef = hypervisor.archive(archived, 1);

    String other = uniqueVmId("arch-b");
    var e = assertThrows(HypervisorException.class,
        () -> hypervisor.restore(archiveRef, spec(other, 1, 80)));
    assertTrue(e.getMessage().contains(archived) && e.getMessage().contains(other), e.getMessage());
    assertNotEquals(true, hypervisor.status(other).isPresent());
    hypervisor.delete(archived);
    assertFalse(Files.exists(Path.of(archiveRef)), "delete left the archive behind");
  }
}
