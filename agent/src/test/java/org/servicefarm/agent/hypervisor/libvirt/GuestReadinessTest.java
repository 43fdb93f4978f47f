package org.servicefarm.agent.hypervisor.libvirt;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.agent.hypervisor.HypervisorException;

class GuestReadinessTest {
  @TempDir Path dir;

  @Test
  void returnsOnceTheGuestPrintsTheMarker() throws Exception {
    Path console = dir.resolve("console.log");
    CompletableFuture<Void> guest = CompletableFuture.runAsync(() -> {
      try {
        Thread.sleep(300);
        Files.writeString(console, "booting\nservicefarm-init: starting\n" + GuestReadiness.READY_MARKER + "\n");
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    GuestReadiness.await("vm-1", console, Duration.ofSeconds(10));
    guest.join();
    assertTrue(Files.readString(console).contains(GuestReadiness.READY_MARKER));
  }

  @Test
  void findsTheMarkerWrittenInPiecesAfterMuchBootOutput() throws Exception {
    Path console = dir.resolve("console.log");
    String half = GuestReadiness.READY_MARKER.substring(0, 7);
    CompletableFuture<Void> guest = CompletableFuture.runAsync(() -> {
      try {
        Files.writeString(console, "kernel line\n".repeat(20_000));
        Thread.sleep(200);
        Files.writeString(console, half, StandardOpenOption.APPEND);
        Thread.sleep(200);
        Files.writeString(console, GuestReadiness.READY_MARKER.substring(7) + "\n",
            StandardOpenOption.APPEND);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    GuestReadiness.await("vm-3", console, Duration.ofSeconds(10));
    guest.join();
  }

  @Test
  void aGuestThatNeverListensFailsWithItsConsoleTail() throws Exception {
    Path console = dir.resolve("console.log");
    Files.writeString(console, "servicefarm-init: command exited with status 127\n");
    HypervisorException e = assertThrows(HypervisorException.class,
        () -> GuestReadiness.await("vm-2", console, Duration.ofMillis(500)));
    assertTrue(e.getMessage().contains("vm-2"), e.getMessage());
    assertTrue(e.getMessage().contains("status 127"), e.getMessage());
  }
}
