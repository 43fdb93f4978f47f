package org.servicefarm.agent.hypervisor.storage;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs {@code qemu-img} for the two things the agent asks of it: make and re-point overlays. */
public final class QemuImg {

  private final String binary;
  private final Duration timeout;

  public QemuImg() {
    this("qemu-img", Duration.ofMinutes(5));
  }

  QemuImg(String binary, Duration timeout) {
    this.binary = binary;
    this.timeout = timeout;
  }

  /** Creates a qcow2 overlay whose reads fall through to {@code base}: no bytes are copied. */
  public void createOverlay(Path base, String baseFormat, Path overlay) throws IOException {
    run("create", "-q", "-f", "qcow2", "-F", baseFormat, "-b", base.toString(),
        overlay.toString());
  }

  /**
   * Points an overlay at another copy of the same base ({@code -u}: the bytes are trusted to be
   * the same, as they are when the digest is, so nothing is compared or copied).
   */
  public void rebaseUnsafe(Path overlay, Path base, String baseFormat) throws IOException {
    run("rebase", "-u", "-f", "qcow2", "-F", baseFormat, "-b", base.toString(),
        overlay.toString());
  }

  private void run(String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of(binary));
    command.addAll(List.of(args));
    Path output = Files.createTempFile("sf-qemu-img", ".log");
    Process process = null;
    try {
      process = new ProcessBuilder(command)
          .redirectErrorStream(true)
          .redirectOutput(output.toFile())
          .start();
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        throw new IOException(String.join(" ", command) + " did not finish within "
            + timeout.toSeconds() + " s");
      }
      if (process.exitValue() != 0) {
        String said = new String(Files.readAllBytes(output), StandardCharsets.UTF_8).trim();
        throw new IOException(String.join(" ", command) + " failed with exit code "
            + process.exitValue() + ": " + said);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly(); // only waitFor() is interrupted, so the process exists
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while running " + String.join(" ", command));
    } finally {
      Files.deleteIfExists(output);
    }
  }
}
