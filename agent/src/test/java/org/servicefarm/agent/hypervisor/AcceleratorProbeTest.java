package org.servicefarm.agent.hypervisor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.agent.hypervisor.AcceleratorProbe.Choice;
import org.servicefarm.agent.hypervisor.AcceleratorProbe.Mode;

/**
 * The accelerator choice, with a stand-in for /dev/kvm (a file that opens or does not) and for
 * QEMU (a script that exits at once, fails, or hangs the way QEMU does when KVM is broken).
 */
class AcceleratorProbeTest {

  @TempDir
  Path dir;

  private Path openableDevice() throws Exception {
    return Files.writeString(dir.resolve("kvm"), "");
  }

  private Path fakeQemu(String body) throws Exception {
    Path script = dir.resolve("qemu-" + Math.abs(body.hashCode()));
    Files.writeString(script, "#!/bin/sh\n" + body + "\n");
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
    return script;
  }

  private Path bootDirWithKernel() throws Exception {
    Path boot = Files.createDirectories(dir.resolve("boot"));
    Files.writeString(boot.resolve("vmlinuz-6.1.0-old"), "old");
    Files.setLastModifiedTime(boot.resolve("vmlinuz-6.1.0-old"), FileTime.fromMillis(1000));
    Files.writeString(boot.resolve("vmlinuz-6.1.0-new"), "new");
    return boot;
  }

  private Choice auto(Path device, Path boot, Path qemu, Duration timeout) {
    return new AcceleratorProbe(device, boot, qemu.toString(), timeout)
        .choose(Mode.AUTO, Optional.empty());
  }

  @Test
  void probeBootThatEndsAtOnceMeansKvmWithTheNewestKernel() throws Exception {
    Path qemu = fakeQemu("echo \"$@\" > " + dir.resolve("args") + "; exit 0");
    Choice choice = auto(openableDevice(), bootDirWithKernel(), qemu, Duration.ofSeconds(10));

    assertEquals(HypervisorKind.KVM, choice.kind(), choice.reason());
    String args = Files.readString(dir.resolve("args"));
    assertTrue(args.contains("-accel kvm") && args.contains("-no-reboot"), args);
    assertTrue(args.contains("vmlinuz-6.1.0-new"), "did not probe with the newest kernel: " + args);
  }

  @Test
  void probeBootThatHangsMeansTcgAndSaysSo() throws Exception {
    Path qemu = fakeQemu("exec sleep 30");
    long started = System.nanoTime();
    Choice choice = auto(openableDevice(), bootDirWithKernel(), qemu, Duration.ofMillis(500));

    assertEquals(HypervisorKind.QEMU_TCG, choice.kind());
    assertTrue(choice.reason().contains("did not exit"), choice.reason());
    assertTrue(System.nanoTime() - started < 10_000_000_000L, "the hung probe was not killed");
  }

  @Test
  void probeBootThatFailsMeansTcgWithQemusComplaint() throws Exception {
    Path qemu = fakeQemu("echo 'Could not access KVM kernel module' >&2; exit 1");
    Choice choice = auto(openableDevice(), bootDirWithKernel(), qemu, Duration.ofSeconds(10));

    assertEquals(HypervisorKind.QEMU_TCG, choice.kind());
    assertTrue(choice.reason().contains("Could not access KVM kernel module"), choice.reason());
  }

  @Test
  void unopenableKvmDeviceOrNoKernelMeansTcgWithoutBooting() throws Exception {
    Path qemu = fakeQemu("touch " + dir.resolve("booted") + "; exit 0");

    Choice noDevice = auto(dir.resolve("no-kvm"), bootDirWithKernel(), qemu, Duration.ofSeconds(5));
    assertEquals(HypervisorKind.QEMU_TCG, noDevice.kind());
    assertTrue(noDevice.reason().contains("no-kvm"), noDevice.reason());

    Choice noKernel = auto(openableDevice(), Files.createDirectories(dir.resolve("empty-boot")),
        qemu, Duration.ofSeconds(5));
    assertEquals(HypervisorKind.QEMU_TCG, noKernel.kind());
    assertTrue(noKernel.reason().contains("no kernel"), noKernel.reason());
    assertTrue(Files.notExists(dir.resolve("booted")), "probed although it could not work");
  }

  @Test
  void explicitModesAreTakenAsGiven() throws Exception {
    Path qemu = fakeQemu("exit 1");
    AcceleratorProbe probe = new AcceleratorProbe(dir.resolve("no-kvm"), dir, qemu.toString(),
        Duration.ofSeconds(1));
    assertEquals(HypervisorKind.KVM, probe.choose(Mode.KVM, Optional.empty()).kind());
    assertEquals(HypervisorKind.QEMU_TCG, probe.choose(Mode.TCG, Optional.empty()).kind());
    assertEquals(Optional.empty(), Mode.parse("hvf"));
  }
}
