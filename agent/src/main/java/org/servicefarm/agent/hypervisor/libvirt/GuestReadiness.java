package org.servicefarm.agent.hypervisor.libvirt;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.servicefarm.agent.hypervisor.HypervisorException;

/**
 * Waits for a cold-booted composed guest to say on its serial console that every service port
 * listens. Until then a forwarded port accepts connections (QEMU's user networking answers for
 * the guest) but nothing serves them, so answering "running" earlier would hand out an endpoint
 * that does not work yet.
 */
final class GuestReadiness {
  /** Printed by the composed image's init once each port in sf.ports= listens. */
  static final String READY_MARKER = "servicefarm: ready";
  private static final long POLL_MILLIS = 100;
  private static final int TAIL_CHARS = 1500;

  private GuestReadiness() {}

  static void await(String vmId, Path consoleLog, Duration timeout) throws HypervisorException {
    long deadline = System.nanoTime() + timeout.toNanos();
    String console = "";
    while (System.nanoTime() < deadline) {
      console = read(consoleLog);
      if (console.contains(READY_MARKER)) {
        return;
      }
      try {
        Thread.sleep(POLL_MILLIS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new HypervisorException(HypervisorException.Kind.HYPERVISOR,
            "interrupted while vm " + vmId + " was booting", e);
      }
    }
    String tail = console.length() > TAIL_CHARS ? console.substring(console.length() - TAIL_CHARS) : console;
    throw new HypervisorException(HypervisorException.Kind.HYPERVISOR, "vm " + vmId
        + " booted but its services did not listen within " + timeout.toSeconds()
        + " s; console tail:\n" + tail);
  }

  private static String read(Path consoleLog) {
    try {
      return Files.exists(consoleLog)
          ? new String(Files.readAllBytes(consoleLog), StandardCharsets.ISO_8859_1) : "";
    } catch (IOException notYetReadable) {
      // QEMU creates the file as it starts; the next poll reads it.
      return "";
    }
  }
}
