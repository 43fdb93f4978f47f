package org.servicefarm.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.ServiceAccess;

/**
 * A controller running as the unprivileged account servicefarm, as the systemd unit runs it,
 * composes an image from Debian packages (in a user namespace of the account's subordinate ids),
 * and a real QEMU guest boots that image and serves. Inside the image, the files are root's, as
 * the packages and the guest expect, not the account's.
 */
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
      Path raw = farm.dir().resolve("composed.raw");
      CommandRun convert = CommandRun.of(farm.dir(), List.of("qemu-img", "convert", "-O", "raw",
          composedDisk(controllerDir.resolve("blobs")).toString(), raw.toString()));
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

  /** The one qcow2 in the blob store: the composed disk (kernel and initrd are not qcow2). */
  private static Path composedDisk(Path blobs) throws IOException {
    try (Stream<Path> files = Files.walk(blobs)) {
      List<Path> disks = files.filter(Files::isRegularFile).filter(f -> {
        try (InputStream in = Files.newInputStream(f)) {
          return Arrays.equals(in.readNBytes(4), new byte[] {'Q', 'F', 'I', (byte) 0xfb});
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }).toList();
      assertEquals(1, disks.size(), "qcow2 blobs: " + disks);
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
