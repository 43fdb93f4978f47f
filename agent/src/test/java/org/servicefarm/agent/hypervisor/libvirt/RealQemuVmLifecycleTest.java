package org.servicefarm.agent.hypervisor.libvirt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.libvirt.LibvirtException;
import org.servicefarm.agent.hypervisor.DomainSpec;
import org.servicefarm.agent.hypervisor.HypervisorKind;
import org.servicefarm.agent.hypervisor.storage.QemuDiskStore;
import org.servicefarm.agent.hypervisor.storage.QemuImg;
import org.servicefarm.agent.hypervisor.storage.VmArchives;
import org.servicefarm.agent.images.FakeImageStoreForTest;
import org.servicefarm.agent.images.ImageCache;
import org.servicefarm.agent.testing.RealHostPrerequisites;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.ImageRef;
import org.servicefarm.api.v1.PowerState;

/**
 * Opt-in, slow: boots a composed image under QEMU (TCG) on the real libvirtd, as two simulated
 * hosts sharing it: install and start on one, answer HTTP on the forwarded port, archive through
 * the image store, restore and start on the other, answer again. Set SF_QEMU_TEST_IMAGE_DIR to a
 * directory holding base.qcow2 (root file system on the whole device), vmlinuz and initrd.img
 * whose init serves HTTP on port 80.
 */
class RealQemuVmLifecycleTest {

  private static final String IMAGE_DIR = System.getenv("SF_QEMU_TEST_IMAGE_DIR");
  private static final Duration BOOT_TIMEOUT = Duration.ofSeconds(120);

  @TempDir
  Path stateDir;

  private final List<LibvirtHypervisor> hosts = new ArrayList<>();
  private FakeImageStoreForTest store;
  private String vmId;

  @AfterEach
  void removeTheVmFromEveryHost() throws Exception {
    for (LibvirtHypervisor host : hosts) {
      if (vmId != null) {
        host.delete(vmId);
      }
      host.close();
    }
    if (store != null) {
      store.close();
    }
  }

  private LibvirtHypervisor host(String hostId, int firstPort) throws IOException {
    Path state = stateDir.resolve(hostId);
    LibvirtHypervisor host = new LibvirtHypervisor(new LibvirtConnection("qemu:///system"),
        new HostSettings(hostId, HypervisorKind.QEMU_TCG, "127.0.0.1"),
        new QemuDiskStore(state, new ImageCache(state.resolve("cache"), Long.MAX_VALUE,
            store.transfers()), new QemuImg()),
        new VmArchives(state, store.transfers()), new HostPortAllocator(firstPort, firstPort + 99));
    hosts.add(host);
    return host;
  }

  @Test
  void composedVmServesHttpBeforeArchiveAndAfterRestoreOnAnotherHost() throws Exception {
    Assumptions.assumeTrue(IMAGE_DIR != null,
        "opt-in: set SF_QEMU_TEST_IMAGE_DIR to boot a real VM under QEMU");
    // QEMU runs as its own user and must reach the disks: JUnit makes its directory 0700.
    Files.setPosixFilePermissions(stateDir, PosixFilePermissions.fromString("rwxr-xr-x"));
    store = FakeImageStoreForTest.started();
    Path images = Path.of(IMAGE_DIR);
    byte[] base = Files.readAllBytes(images.resolve("base.qcow2"));
    ImageRef image = ImageRef.newBuilder().setName("static-web").setFormat("qcow2")
        .setSha256(store.add(base).hex()).setSizeBytes(base.length)
        .setKernelSha256(store.add(Files.readAllBytes(images.resolve("vmlinuz"))).hex())
        .setInitrdSha256(store.add(Files.readAllBytes(images.resolve("initrd.img"))).hex())
        .setKernelCmdline("root=/dev/vda rw console=ttyS0 init=/sbin/servicefarm-init")
        .build();
    LibvirtHypervisor hostA = host("sf-test-a", 28100);
    LibvirtHypervisor hostB = host("sf-test-b", 28200);
    try {
      hostA.inventory();
    } catch (Exception e) {
      RealHostPrerequisites.require(!(e.getCause() instanceof LibvirtException),
          "libvirtd at qemu:///system is not reachable: " + e.getMessage());
      throw e;
    }
    vmId = "rt-" + UUID.randomUUID().toString().substring(0, 8);
    DomainSpec spec = new DomainSpec(vmId, 1, image, 1, 256, List.of(80));

    long t0 = System.nanoTime();
    DomainStatus installed = hostA.install(spec);
    long t1 = System.nanoTime();
    hostA.start(vmId, 2);
    String first = awaitHttp(installed.getPorts(0).getHostPort());
    long t2 = System.nanoTime();
    assertTrue(first.contains("sf.vm=" + vmId + " sf.host=sf-test-a"), first);

    String archiveRef = hostA.archive(vmId, 3);
    long t3 = System.nanoTime();
    DomainStatus restored = hostB.restore(archiveRef,
        new DomainSpec(vmId, 4, image, 1, 256, List.of(80)));
    long t4 = System.nanoTime();
    assertEquals(PowerState.POWER_STATE_SHUT_OFF, restored.getPower());
    hostB.start(vmId, 5);
    String second = awaitHttp(restored.getPorts(0).getHostPort());
    long t5 = System.nanoTime();
    assertTrue(second.contains("sf.vm=" + vmId + " sf.host=sf-test-b"), second);
    assertTrue(hostA.inventory().isEmpty(), "host A still has the VM it archived");

    System.out.printf("install (fetch %d MiB + overlay + define) %d ms; start to HTTP %d ms;"
            + " archive %d ms (%d bytes uploaded); restore %d ms; start to HTTP %d ms%n",
        base.length >> 20, ms(t1 - t0), ms(t2 - t1), ms(t3 - t2),
        store.blob(archiveRef.substring("sha256:".length())).length, ms(t4 - t3), ms(t5 - t4));
  }

  private static long ms(long nanos) {
    return nanos / 1_000_000;
  }

  /** The guest's page on the forwarded port, once its init has brought HTTP up. */
  private static String awaitHttp(int hostPort) throws Exception {
    long deadline = System.nanoTime() + BOOT_TIMEOUT.toNanos();
    IOException last = null;
    while (System.nanoTime() < deadline) {
      try {
        HttpURLConnection http = (HttpURLConnection)
            URI.create("http://127.0.0.1:" + hostPort + "/").toURL().openConnection();
        http.setConnectTimeout(2000);
        http.setReadTimeout(2000);
        try (InputStream in = http.getInputStream()) {
          return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
      } catch (IOException e) {
        last = e; // not up yet: QEMU accepts on the port before the guest answers
      }
      Thread.sleep(250);
    }
    throw new AssertionError("no HTTP on port " + hostPort + " within " + BOOT_TIMEOUT, last);
  }
}
