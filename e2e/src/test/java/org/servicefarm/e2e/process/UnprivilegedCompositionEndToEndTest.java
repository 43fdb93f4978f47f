package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.CommandRun;
import org.servicefarm.e2e.support.ControllerAccount;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.RealGuestTest;
import org.servicefarm.e2e.support.RealGuests;

/**
 * A controller running as the unprivileged account servicefarm, as the systemd unit runs it,
 * composes an image from Debian packages (in a user namespace of the account's subordinate ids),
 * and a real QEMU guest boots that image and serves. Inside the image, the files are root's, as
 * the packages and the guest expect, not the account's.
 */
@RealGuestTest
class UnprivilegedCompositionEndToEndTest {
  private static final String ACCOUNT = ControllerAccount.NAME;
  private static final String HOST = "qemu-unprivileged";

  @Test
  void aControllerWithoutRootComposesAnImageOwnedByRootInsideThatAGuestBootsAndServes()
      throws Exception {
    RealGuests.requireLibvirtd();
    ControllerAccount.requireWithSubordinateIds();
    try (ProcessFarm farm = new ProcessFarm("qemu:///system")) {
      farm.startControllerAs(ACCOUNT);
      assertEquals(ACCOUNT, Files.getOwner(Path.of("/proc", Long.toString(farm.controllerPid())))
          .getName(), "the controller runs as " + ACCOUNT);
      String log = Files.readString(farm.dir().resolve("logs/controller.log"));
      assertTrue(log.contains("images are composed without root"), log);
      farm.startAgent(HOST);
      farm.awaitConnected(List.of(HOST));
      FarmClient client = farm.client(Duration.ofMinutes(15));
      client.defineService(ServiceDefinition.newBuilder().setName("unprivileged-web")
          .addPackages("busybox").setCommand("busybox httpd -f -p 80 -h /srv/www").setPort(80)
          .setVcpus(1).setMemoryMb(256).build());

      ServiceAccess access = client.requestService("unprivileged-web");
      String page = RealGuests.httpGet(access.endpoint(), Duration.ofSeconds(90));
      assertTrue(page.contains(access.vmId()), "the guest serves its page: " + page);

      Path controllerDir = farm.dir().resolve("controller");
      try (Stream<Path> build = Files.list(controllerDir.resolve("build"))) {
        assertEquals(List.of(), build.filter(Files::isDirectory).toList(),
            "the build's tree, partly owned by subordinate ids, is removed");
      }
      // The base layer is what mmdebstrap composed in the namespace: its owners are the guest's.
      Path raw = farm.dir().resolve("composed.raw");
      CommandRun convert = CommandRun.of(farm.dir(), List.of("qemu-img", "convert", "-O", "raw",
          baseLayerDisk(controllerDir.resolve("blobs")).toString(), raw.toString()));
      assertEquals(0, convert.exitCode(), convert.toString());
      String init = stat(farm.dir(), raw, "/sbin/servicefarm-init");
      assertTrue(init.matches("(?s).*User:\\s+0\\s+Group:\\s+0\\s.*"), "init is root's: " + init);
      assertTrue(init.contains("Mode:  0755"), init);
      String shadow = stat(farm.dir(), raw, "/etc/shadow");
      assertTrue(shadow.matches("(?s).*User:\\s+0\\s+Group:\\s+42\\s.*"),
          "a package's group (shadow) survives: " + shadow);
      String su = stat(farm.dir(), raw, "/usr/bin/su");
      assertTrue(su.contains("Mode:  04755"), "setuid root survives: " + su);
      Files.delete(raw);
    }
  }

  @Test
  void aControllerKilledWhileComposingRemovesTheUnfinishedTreeAtItsNextStart() throws Exception {
    RealGuests.requireLibvirtd();
    ControllerAccount.requireWithSubordinateIds();
    try (ProcessFarm farm = new ProcessFarm("qemu:///system")) {
      farm.startControllerAs(ACCOUNT);
      farm.startAgent(HOST);
      farm.awaitConnected(List.of(HOST));
      FarmClient client = farm.client(Duration.ofMinutes(15));
      client.defineService(ServiceDefinition.newBuilder().setName("killed-while-composing")
          .addPackages("busybox").setPort(80).setVcpus(1).setMemoryMb(256).build());
      // The request waits for the build; the controller dies under it, so it fails.
      CompletableFuture<ServiceAccess> request =
          CompletableFuture.supplyAsync(() -> client.requestService("killed-while-composing"));
      // The base layer is composed in the layer cache's work directory for it.
      Path build = farm.dir().resolve("controller/layer-cache/bases");
      long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
      while (composingTrees(build).isEmpty() && System.nanoTime() < deadline) {
        Thread.sleep(200);
      }
      assertEquals(1, composingTrees(build).size(), "mmdebstrap is installing packages");
      Path shadow = composingTrees(build).get(0).resolve("rootfs/etc/shadow");
      int shadowGroup = (Integer) Files.getAttribute(shadow, "unix:gid");
      int accountGroup = (Integer) Files.getAttribute(farm.dir().resolve("controller"),
          "unix:gid");
      assertTrue(shadowGroup != accountGroup && shadowGroup >= 65536,
          "the tree holds files of the account's subordinate ids (/etc/shadow's group "
          + shadowGroup + "), which the account cannot delete outside the namespace");
      List<ProcessHandle> children = ProcessHandle.of(farm.controllerPid()).orElseThrow()
          .descendants().toList();
      assertTrue(children.stream().anyMatch(p -> p.info().command().orElse("")
          .endsWith("unshare")), "the build runs in a user namespace: " + children);

      // A crash under systemd: the controller dies, and the unit's control group with it.
      farm.killController();
      children.forEach(ProcessHandle::destroyForcibly);
      assertTrue(request.handle((access, failure) -> failure != null).get(),
          "the request fails with its controller");
      assertEquals(1, composingTrees(build).size(), "the unfinished tree is left");

      farm.startControllerAs(ACCOUNT);
      try (Stream<Path> left = Files.list(build)) {
        assertEquals(List.of(), left.filter(Files::isDirectory).toList(),
            "the next start removes the tree, subordinate ids' files and all");
      }
    }
  }

  /**
   * Trees in which mmdebstrap is installing the base layer's packages (the passwd package made
   * /etc/shadow): work directories of the layer cache.
   */
  private static List<Path> composingTrees(Path build) throws IOException {
    if (!Files.isDirectory(build)) {
      return List.of();
    }
    try (Stream<Path> dirs = Files.list(build)) {
      return dirs.filter(d -> Files.exists(d.resolve("rootfs/etc/shadow"))).toList();
    }
  }

  /**
   * The one qcow2 in the blob store that names no backing file: the base layer (the service
   * layer is backed by it; kernel, initrd and the base's tree are not qcow2).
   */
  private static Path baseLayerDisk(Path blobs) throws IOException {
    try (Stream<Path> files = Files.walk(blobs)) {
      List<Path> disks = files.filter(Files::isRegularFile).filter(f -> {
        try (InputStream in = Files.newInputStream(f)) {
          byte[] head = in.readNBytes(16);
          return Arrays.equals(Arrays.copyOf(head, 4), new byte[] {'Q', 'F', 'I', (byte) 0xfb})
              && Arrays.equals(Arrays.copyOfRange(head, 8, 16), new byte[8]);
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }).toList();
      assertEquals(1, disks.size(), "qcow2 blobs without a backing file: " + disks);
      return disks.get(0);
    }
  }

  private static String stat(Path workDir, Path raw, String file)
      throws IOException, InterruptedException {
    CommandRun run = CommandRun.of(workDir, List.of(debugfs(), "-R", "stat " + file,
        raw.toString()));
    assertEquals(0, run.exitCode(), run.toString());
    return run.out();
  }

  private static String debugfs() {
    return CommandRun.onPath("debugfs") ? "debugfs" : "/usr/sbin/debugfs";
  }
}
