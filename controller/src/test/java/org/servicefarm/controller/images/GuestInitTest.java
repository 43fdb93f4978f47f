package org.servicefarm.controller.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GuestInitTest {
  @TempDir
  Path rootfs;

  @Test
  void writesAnExecutableInitTheKernelCommandLineNames() throws IOException {
    new GuestInit("static-web", "busybox httpd -f -p 80 -h /srv/www").writeInto(rootfs);

    Path init = rootfs.resolve("sbin/servicefarm-init");
    assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(init)));
    assertTrue(Files.readString(init).startsWith("#!/bin/sh\n"));
    assertTrue(GuestInit.KERNEL_CMDLINE.contains("init=/sbin/servicefarm-init"));
    assertTrue(GuestInit.KERNEL_CMDLINE.contains("root=/dev/vda"));
    assertEquals("static-web\n", Files.readString(rootfs.resolve("etc/servicefarm/service")));
    assertTrue(Files.isDirectory(rootfs.resolve("srv/www")));
  }

  @Test
  void scriptIsValidShellThatBringsUpTheNetworkAndNamesTheVm() throws Exception {
    String script = new GuestInit("static-web", "true").script();
    Path file = rootfs.resolve("init");
    Files.writeString(file, script);
    assertEquals(0, run(List.of("sh", "-n", file.toString())).exitCode(), "sh -n rejects the script");
    assertTrue(script.contains("modprobe virtio_net"));
    assertTrue(script.contains("busybox ip addr add 10.0.2.15/24 dev \"$IF\""));
    assertTrue(script.contains("busybox ip route add default via 10.0.2.2"));
    assertTrue(script.contains("sf.vm=*"));
    assertTrue(script.contains("/srv/www/index.html"));
  }

  @Test
  void commandWithQuotesAndSpacesReachesTheShellIntact() throws Exception {
    String command = "printf '%s|' 'two words' \"a \\\"quoted\\\" word\" $((1+2))";
    new GuestInit("web", command).writeInto(rootfs);

    Path commandFile = rootfs.resolve("etc/servicefarm/command");
    assertEquals(command, Files.readString(commandFile, StandardCharsets.UTF_8));
    // Run it the way the init does.
    Result r = run(List.of("sh", "-c", "sh -c \"$(cat " + commandFile + ")\""));
    assertEquals("two words|a \"quoted\" word|3|", r.output());
  }

  private record Result(int exitCode, String output) {}

  private static Result run(List<String> argv) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(10, TimeUnit.SECONDS));
    return new Result(p.exitValue(), out);
  }
}
