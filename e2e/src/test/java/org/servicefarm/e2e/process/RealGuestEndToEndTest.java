package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.servicefarm.api.v1.Image;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.BootableDisks;
import org.servicefarm.e2e.support.OciLayouts;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.ReadableByOthers;
import org.servicefarm.e2e.support.RealGuestTest;
import org.servicefarm.e2e.support.RealGuests;

/**
 * A service composed from Debian packages, booted by QEMU through libvirtd, reached over TCP:
 * one controller and two agents (two simulated hosts sharing this machine's libvirtd). The same
 * farm then serves a service defined from an uploaded OCI image, on the base layer the first
 * service composed, and one from an uploaded disk that boots by itself.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@RealGuestTest
class RealGuestEndToEndTest {
  private static final List<String> HOSTS = List.of("qemu-a", "qemu-b");
  private static final Duration PAGE_PATIENCE = Duration.ofSeconds(90);
  private static ProcessFarm farm;
  private static FarmClient client;
  private static String vmId;

  @BeforeAll
  static void startFarm() throws Exception {
    RealGuests.requireLibvirtd();
    farm = new ProcessFarm("qemu:///system");
    farm.startController();
    for (String host : HOSTS) {
      farm.startAgent(host);
    }
    farm.awaitConnected(HOSTS);
    client = farm.client(Duration.ofMinutes(15));
    client.defineService(ServiceDefinition.newBuilder().setName("static-web")
        .addPackages("busybox").setCommand("busybox httpd -f -p 80 -h /srv/www").setPort(80)
        .setVcpus(1).setMemoryMb(256).build());
  }

  @AfterAll
  static void stopFarm() {
    if (farm != null) {
      farm.close();
    }
  }

  @Test
  @Order(1)
  void aServiceComposedFromPackagesServesItsPageFromInsideTheGuest() throws Exception {
    ServiceAccess access = client.requestService("static-web");
    vmId = access.vmId();
    assertTrue(access.created());
    String page = RealGuests.httpGet(access.endpoint(), PAGE_PATIENCE);
    assertTrue(page.contains(vmId), "the page names the guest that served it: " + page);
    assertTrue(RealGuests.domainExists("sf-" + vmId));
  }

  @Test
  @Order(2)
  void aSecondServiceWithTheSamePackagesReusesTheImage() {
    client.defineService(ServiceDefinition.newBuilder().setName("static-web-2")
        .addPackages("busybox").setCommand("busybox httpd -f -p 80 -h /srv/www").setPort(80)
        .setMemoryMb(256).build());
    long composed = client.listImages().stream().filter(i -> i.getName().startsWith("composed-")).count();
    assertEquals(1, composed, "one image for one package combination");
  }

  @Test
  @Order(3)
  void aSleepingGuestIsWokenByARequestAndServesAgain() throws Exception {
    Vm slept = client.suspendVm(vmId, true);
    assertEquals(VmState.VM_STATE_SLEEPING, slept.getState());
    ServiceAccess woken = client.requestService("static-web");
    assertEquals(vmId, woken.vmId());
    assertTrue(RealGuests.httpGet(woken.endpoint(), PAGE_PATIENCE).contains(vmId));
  }

  @Test
  @Order(4)
  void anArchivedGuestIsRestoredOnAnotherHostWithItsDisk() throws Exception {
    String firstHost = client.getVm(vmId).getHostId();
    Vm archived = client.archiveVm(vmId, true);
    assertEquals(VmState.VM_STATE_ARCHIVED, archived.getState());
    assertFalse(RealGuests.domainExists("sf-" + vmId), "archived: undefined from libvirt");
    // With its old host cordoned, the restore has to use the other one.
    client.drainHost(firstHost);
    ServiceAccess restored = client.requestService("static-web");
    assertEquals(vmId, restored.vmId());
    assertNotEquals(firstHost, client.getVm(vmId).getHostId(), "restored on the other host");
    assertTrue(RealGuests.httpGet(restored.endpoint(), PAGE_PATIENCE).contains(vmId));
    // Each boot appends a line on the guest's disk: two lines prove the disk came back.
    String boots = RealGuests.httpGet(restored.endpoint(), "/boots.txt", PAGE_PATIENCE);
    assertEquals(2, boots.lines().filter(l -> l.startsWith("boot ")).count(), boots);
    assertTrue(boots.contains("on host " + firstHost), boots);
    client.uncordonHost(firstHost);
  }

  @Test
  @Order(6)
  void anIdleGuestSleepsThenIsArchivedAndARequestBringsItBack() throws Exception {
    // Same packages and command as static-web: the image is built already.
    client.defineService(ServiceDefinition.newBuilder().setName("lazy-web")
        .addPackages("busybox").setCommand("busybox httpd -f -p 80 -h /srv/www").setPort(80)
        .setMemoryMb(256).setSleepAfterSeconds(2).setArchiveAfterSeconds(6).build());
    ServiceAccess first = client.requestService("lazy-web", "lazy-1", Duration.ofSeconds(1));
    assertTrue(RealGuests.httpGet(first.endpoint(), PAGE_PATIENCE).contains(first.vmId()));
    farm.awaitTrue("lazy-web asleep once its lease lapsed", Duration.ofSeconds(60),
        () -> client.getVm(first.vmId()).getState() == VmState.VM_STATE_SLEEPING);
    farm.awaitTrue("lazy-web archived after archive_after", Duration.ofSeconds(60),
        () -> client.getVm(first.vmId()).getState() == VmState.VM_STATE_ARCHIVED);
    ServiceAccess back = client.requestService("lazy-web");
    assertEquals(first.vmId(), back.vmId());
    assertTrue(RealGuests.httpGet(back.endpoint(), PAGE_PATIENCE).contains(first.vmId()));
    client.deleteVm(back.vmId(), true);
  }

  @Test
  @Order(5)
  void deleteLeavesNothingOfTheGuestBehind() throws Exception {
    Vm deleted = client.deleteVm(vmId, true);
    assertEquals(VmState.VM_STATE_DELETED, deleted.getState());
    assertFalse(RealGuests.domainExists("sf-" + vmId), "no domain left in libvirt");
    assertFalse(Files.exists(Path.of("/var/lib/libvirt/qemu/save/sf-" + vmId + ".save")),
        "no managed save image left");
    for (String host : HOSTS) {
      Path state = farm.dir().resolve("agent-" + host);
      assertTrue(filesNaming(state, vmId).isEmpty(),
          "host " + host + " still holds " + filesNaming(state, vmId));
    }
  }

  @Test
  @Order(7)
  void aServiceDefinedFromAnUploadedOciImageRunsItsEntrypointOnItsExposedPort()
      throws Exception {
    // Two layers: the second deletes a file of the first (an OCI whiteout) and adds the
    // entrypoint, which runs the base layer's busybox httpd on the port the cmd names.
    Path archive = OciLayouts.write(farm.dir().resolve("web-oci.tar"), List.of(
        Map.of("srv/", "", "srv/oci/", "", "srv/oci/index.html", "served from an OCI image\n",
            "srv/oci/secret.txt", "deleted by the layer above\n"),
        Map.of("srv/oci/.wh.secret.txt", "", "usr/", "", "usr/local/", "",
            "usr/local/bin/", "",
            "usr/local/bin/oci-web", "#!/bin/sh\nexec busybox httpd -f -p \"$1\" -h /srv/oci\n")),
        List.of("/usr/local/bin/oci-web"), List.of("8080"), List.of(8080));
    assertEquals("oci", client.uploadImage("web-oci", "oci", archive, Duration.ofMinutes(5))
        .getFormat());
    ServiceDefinition defined = client.defineService(ServiceDefinition.newBuilder()
        .setName("oci-web").setImage("web-oci").setMemoryMb(256).build());
    assertEquals(8080, defined.getPort(), "the image's exposed port");
    assertEquals("/usr/local/bin/oci-web 8080", defined.getCommand(), "entrypoint and cmd");

    ServiceAccess access = client.requestService("oci-web");
    assertEquals("served from an OCI image\n", RealGuests.httpGet(access.endpoint(),
        PAGE_PATIENCE));
    HttpResponse<String> secret = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
            URI.create("http://" + access.endpoint() + "/secret.txt"))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(404, secret.statusCode(), "the whiteout deleted it: " + secret.body());
    client.deleteVm(access.vmId(), true);
  }

  @Test
  @Order(8)
  void aDiskImageUploadedFromAComposedFileSystemBootsByItselfAndServes() throws Exception {
    // A disk a user brings boots from its own boot loader, with no kernel from the farm: this
    // one is static-web's composed file system with extlinux put in front of it.
    Image composed = client.listImages().stream()
        .filter(i -> i.getName().startsWith("composed-")).findFirst().orElseThrow();
    Path blobs = farm.dir().resolve("controller").resolve("blobs");
    Path disk = BootableDisks.make(blobs.resolve(composed.getSha256()),
        blobs.resolve(composed.getKernelSha256()), blobs.resolve(composed.getInitrdSha256()),
        farm.dir().resolve("static-web-disk.qcow2"));
    Image uploaded = client.uploadImage("static-web-disk", "qcow2", disk, Duration.ofMinutes(10));
    assertEquals("READY", uploaded.getBuildState());
    assertEquals("", uploaded.getKernelSha256(), "the farm gives this disk no kernel");
    client.defineService(ServiceDefinition.newBuilder().setName("disk-web")
        .setImage("static-web-disk").setPort(80).setMemoryMb(256).build());

    ServiceAccess access = client.requestService("disk-web");
    String page = RealGuests.httpGet(access.endpoint(), Duration.ofMinutes(4));
    assertTrue(page.contains("service static-web"), "the disk's own init served: " + page);
    client.deleteVm(access.vmId(), true);
  }

  @Test
  @Order(9)
  void noFileTheControllerOrAnAgentKeepsIsReadableByAnotherAccount() throws Exception {
    List<Path> dirs = new java.util.ArrayList<>(List.of(farm.dir().resolve("controller")));
    HOSTS.forEach(host -> dirs.add(farm.dir().resolve("agent-" + host)));
    List<String> readable = new java.util.ArrayList<>();
    for (Path dir : dirs) {
      readable.addAll(ReadableByOthers.under(dir));
    }
    assertEquals(List.of(), readable, "images, archives, disks, tokens and the database are"
        + " for the farm's accounts (and QEMU's group) only");
  }

  private static List<Path> filesNaming(Path dir, String vmId) throws IOException {
    if (!Files.exists(dir)) {
      return List.of();
    }
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(p -> p.getFileName().toString().contains(vmId)).toList();
    }
  }
}
