package org.servicefarm.agent.hypervisor;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses between KVM and QEMU's software emulation (TCG). An openable /dev/kvm is not enough:
 * on some hosts (nested virtualization gone wrong) KVM opens but every guest stops with "KVM
 * internal error". So {@code auto} also boots a kernel without a root file system under KVM: it
 * panics at once and, with {@code -no-reboot}, QEMU exits within seconds when KVM works, and hangs
 * when it does not.
 */
public final class AcceleratorProbe {

  private static final Logger log = LoggerFactory.getLogger(AcceleratorProbe.class);

  /** What the operator asked for with {@code --accel}. */
  public enum Mode {
    AUTO, KVM, TCG;

    /** Parses {@code auto}, {@code kvm} or {@code tcg}. */
    public static Optional<Mode> parse(String text) {
      for (Mode mode : values()) {
        if (mode.name().toLowerCase(Locale.ROOT).equals(text)) {
          return Optional.of(mode);
        }
      }
      return Optional.empty();
    }
  }

  /** The accelerator chosen and why, in words for the log. */
  public record Choice(HypervisorKind kind, String reason) {}

  static final Duration PROBE_TIMEOUT = Duration.ofSeconds(20);

  private final Path kvmDevice;
  private final Path bootDir;
  private final String qemuBinary;
  private final Duration timeout;

  public AcceleratorProbe() {
    this(Path.of("/dev/kvm"), Path.of("/boot"), "qemu-system-x86_64", PROBE_TIMEOUT);
  }

  AcceleratorProbe(Path kvmDevice, Path bootDir, String qemuBinary, Duration timeout) {
    this.kvmDevice = kvmDevice;
    this.bootDir = bootDir;
    this.qemuBinary = qemuBinary;
    this.timeout = timeout;
  }

  /**
   * @param probeKernel the kernel to probe with; default the newest /boot/vmlinuz-*
   */
  public Choice choose(Mode mode, Optional<Path> probeKernel) {
    Choice choice = switch (mode) {
      case KVM -> new Choice(HypervisorKind.KVM, "--accel kvm");
      case TCG -> new Choice(HypervisorKind.QEMU_TCG, "--accel tcg");
      case AUTO -> probe(probeKernel);
    };
    log.info("accelerator: {} ({})", choice.kind().wireName(), choice.reason());
    return choice;
  }

  private Choice probe(Optional<Path> probeKernel) {
    if (!openableReadWrite(kvmDevice)) {
      return tcg(kvmDevice + " does not open for reading and writing");
    }
    Optional<Path> kernel = probeKernel.isPresent() ? probeKernel : newestKernel();
    if (kernel.isEmpty()) {
      return tcg("no kernel to probe KVM with: no " + bootDir + "/vmlinuz-* and no"
          + " --kvm-probe-kernel");
    }
    Path stderr = null;
    try {
      stderr = Files.createTempFile("sf-kvm-probe", ".log");
      long started = System.nanoTime();
      Process qemu = new ProcessBuilder(qemuBinary, "-accel", "kvm", "-cpu", "host", "-m", "128",
          "-nodefaults", "-nographic", "-no-reboot", "-kernel", kernel.get().toString(),
          "-append", "console=ttyS0 panic=-1")
          .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
          .redirectOutput(ProcessBuilder.Redirect.DISCARD)
          .redirectError(stderr.toFile())
          .start();
      if (!qemu.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        qemu.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        return tcg("a KVM probe boot of " + kernel.get() + " did not exit within "
            + timeout.toSeconds() + " s, so KVM hangs guests here");
      }
      long millis = (System.nanoTime() - started) / 1_000_000;
      if (qemu.exitValue() != 0) {
        return tcg("the KVM probe boot of " + kernel.get() + " failed with exit code "
            + qemu.exitValue() + ": " + lastLine(stderr));
      }
      return new Choice(HypervisorKind.KVM, "/dev/kvm opens and a probe boot of " + kernel.get()
          + " ended in " + millis + " ms");
    } catch (IOException e) {
      return tcg("cannot run the KVM probe (" + qemuBinary + "): " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return tcg("the KVM probe was interrupted");
    } finally {
      deleteProbeLog(stderr);
    }
  }

  private static Choice tcg(String why) {
    return new Choice(HypervisorKind.QEMU_TCG, why);
  }

  static boolean openableReadWrite(Path device) {
    try {
      FileChannel.open(device, StandardOpenOption.READ, StandardOpenOption.WRITE).close();
      return true;
    } catch (IOException | SecurityException e) {
      // Not openable is the answer this check exists to give, not a failure.
      return false;
    }
  }

  /** The most recently installed /boot/vmlinuz-*, if any. */
  Optional<Path> newestKernel() {
    if (!Files.isDirectory(bootDir)) {
      return Optional.empty();
    }
    try (Stream<Path> files = Files.list(bootDir)) {
      List<Path> kernels = files
          .filter(path -> path.getFileName().toString().startsWith("vmlinuz-"))
          .filter(Files::isRegularFile)
          .toList();
      return kernels.stream().max(Comparator.comparing(AcceleratorProbe::modified));
    } catch (IOException e) {
      log.warn("cannot list {} for a kernel to probe KVM with: {}", bootDir, e.toString());
      return Optional.empty();
    }
  }

  private static FileTime modified(Path path) {
    try {
      return Files.getLastModifiedTime(path);
    } catch (IOException e) {
      // Vanished while listing: it cannot be the kernel to probe with.
      return FileTime.fromMillis(0);
    }
  }

  private static String lastLine(Path file) throws IOException {
    // Decoded leniently: QEMU's error output is for people and need not be valid UTF-8.
    List<String> lines = new String(Files.readAllBytes(file), StandardCharsets.UTF_8).lines()
        .filter(line -> !line.isBlank()).toList();
    return lines.isEmpty() ? "(no error output)" : lines.get(lines.size() - 1).trim();
  }

  private static void deleteProbeLog(Path file) {
    if (file == null) {
      return;
    }
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      log.warn("cannot delete the KVM probe's log {}: {}", file, e.toString());
    }
  }
}
