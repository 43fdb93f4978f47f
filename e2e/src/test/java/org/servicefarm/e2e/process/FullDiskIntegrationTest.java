package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.servicefarm.api.v1.Event;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.EventFilter;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmTimeoutException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.FarmLeftovers;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.RealGuestTest;
import org.servicefarm.e2e.support.RealGuests;

/**
 * Operations that run out of disk on their host, on real QEMU guests whose host state directory
 * is a small ext4 file system of its own (a loop mount). An archive fails cleanly (no
 * half-written file, the reason names the path and the sizes), the VM runs on its disk, and the
 * same archive succeeds once there is room. An image fetch for a new VM's install fails the same
 * way, and the install waits on its host (PROVISIONING) until there is room, then goes through.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@RealGuestTest
class FullDiskIntegrationTest {
  private static final String HOST = "full-" + UUID.randomUUID().toString().substring(0, 6);
  private static final String SERVICE = "full-web";
  private static final String FETCHED = "full-fetch";
  // Room for two composed images (about 135 MB each in the cache) and the disk placement asks for.
  private static final long FILE_SYSTEM_MB = 900;
  /** What the fetch test leaves free before its request: placement asks for the image and 256 MB. */
  private static final long ROOM_LEFT_FOR_PLACEMENT = 360L << 20;

  private ProcessFarm farm;
  private FarmClient client;
  private Path image;
  private Path stateDir;
  private boolean mounted;

  @BeforeAll
  void start() throws Exception {
    RealGuests.requireLibvirtd();
    RealGuests.requireRoot("loop-mounting the host's state directory");
    farm = new ProcessFarm("qemu:///system");
    stateDir = Files.createDirectories(farm.dir().resolve("agent-" + HOST));
    image = Files.createTempFile("sf-full-disk", ".ext4");
    try (var file = new java.io.RandomAccessFile(image.toFile(), "rw")) {
      file.setLength(FILE_SYSTEM_MB << 20);
    }
    // No blocks kept back for root: the agent runs as root, and the disk must fill for it too.
    require(RealGuests.run("mkfs.ext4", "-q", "-F", "-m", "0", image.toString()) == 0,
        "mkfs.ext4");
    require(RealGuests.run("mount", "-o", "loop", image.toString(), stateDir.toString()) == 0,
        "mount -o loop");
    mounted = true;
    RealGuests.run("chmod", "755", stateDir.toString());
    farm.startController();
    farm.startAgent(HOST);
    farm.awaitConnected(List.of(HOST));
    client = farm.client(Duration.ofMinutes(10));
    client.defineService(ServiceDefinition.newBuilder().setName(SERVICE)
        .addPackages("busybox").setCommand("busybox httpd -f -p 80 -h /srv/www").setPort(80)
        .setVcpus(1).setMemoryMb(256).build());
    // Another composed image, whose fetch is what the second test fills up. A package the base
    // lacks makes its composition run apt, seconds that the disk's last room is filled in.
    client.defineService(ServiceDefinition.newBuilder().setName(FETCHED)
        .addPackages("busybox").addPackages("hello")
        .setCommand("busybox httpd -f -v -p 80 -h /srv/www").setPort(80)
        .setVcpus(1).setMemoryMb(256).build());
  }

  /** A machine that cannot loop-mount fails in CI, and skips loudly elsewhere. */
  private static void require(boolean ok, String what) {
    if (!ok && "true".equals(System.getenv("CI"))) {
      throw new AssertionError(what + " failed: the full-disk test cannot run, and CI must run it");
    }
    if (!ok) {
      System.err.println("WARNING: " + what + " failed: full-disk test SKIPPED");
    }
    org.junit.jupiter.api.Assumptions.assumeTrue(ok, what + " failed");
  }

  @AfterAll
  void stop() throws Exception {
    if (farm != null) {
      Path kept = Files.createDirectories(Path.of("target", "full-disk-logs", HOST));
      try (var logs = Files.list(farm.dir().resolve("logs"))) {
        for (Path log : logs.toList()) {
          Files.copy(log, kept.resolve(log.getFileName()),
              java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
      farm.close(); // stops the processes; the directory stays while the state dir is mounted
    }
    try {
      if (mounted) {
        RealGuests.run("umount", "-l", stateDir.toString());
      }
    } finally {
      if (farm != null) {
        FarmLeftovers.deleteTree(farm.dir()); // refuses while anything is still mounted under it
      }
      if (image != null) {
        Files.deleteIfExists(image);
      }
    }
  }

  @Test
  @Order(1)
  void anArchiveThatRunsOutOfDiskFailsCleanlyAndSucceedsOnceThereIsRoom() throws Exception {
    ServiceAccess first = request(SERVICE, "first");
    String vmId = first.vmId();
    List<String> before = boots(first);

    // Asleep, the guest writes nothing while the disk is full; the archive still has to write.
    assertEquals(VmState.VM_STATE_SLEEPING, client.suspendVm(vmId, true).getState());
    Path filler = stateDir.resolve("filler");
    try {
      archiveOnAFullDisk(vmId, before, filler);
    } finally { // the next test needs the room back even when this one fails
      Files.deleteIfExists(filler);
      Files.deleteIfExists(filler.resolveSibling("filler-tail"));
    }
  }

  private void archiveOnAFullDisk(String vmId, List<String> before, Path filler)
      throws Exception {
    long filled = fill(filler);
    long started = System.nanoTime();
    Vm afterFailure = client.archiveVm(vmId, true);
    double failedAfter = (System.nanoTime() - started) / 1e9;

    assertEquals(VmState.VM_STATE_SLEEPING, afterFailure.getState(), "it sleeps on");
    String cause = causes(vmId).stream().filter(c -> c.startsWith("archive failed on host"))
        .findFirst().orElseThrow(() -> new AssertionError("no event says the archive failed: "
            + causes(vmId)));
    assertTrue(cause.contains("upload.gz") && cause.contains("MiB free of"), cause);
    assertEquals(List.of(), halfWrittenArchives(), "no half-written archive left");

    Files.delete(filler);
    Files.delete(filler.resolveSibling("filler-tail"));
    Vm archived = client.archiveVm(vmId, true);
    assertEquals(VmState.VM_STATE_ARCHIVED, archived.getState(), "archived once there is room");
    // Placement goes by the host's reports: the room made shows in the next one (every 2 s).
    farm.awaitTrue("host " + HOST + " reports the room made", Duration.ofSeconds(30),
        () -> client.listHosts().stream().anyMatch(h -> h.getId().equals(HOST)
            && h.getLoad().getDiskFreeMb() > 400));
    List<String> restored = boots(request(SERVICE, "restored"));
    assertEquals(before, restored.subList(0, before.size()), "the archive holds the disk");
    assertEquals(before.size() + 1, restored.size(), restored.toString());
    System.out.printf("full disk archive: failed cleanly after %.1f s with %d MiB filled (%s);"
        + " VM slept on, kept %d boots; archived and restored once there was room%n", failedAfter,
        filled >> 20, cause.substring(cause.indexOf("writing")), restored.size());
  }

  @Test
  @Order(2)
  void anImageFetchThatRunsOutOfDiskLeavesNothingAndTheInstallWaitsForRoom() throws Exception {
    // Placed while the host has room; the disk fills while the controller composes the image.
    // Most of it is filled before the request, leaving the room placement asks for (the image
    // and a saved memory image), so what is left to fill after it takes a moment: the fetch must
    // find the disk full, not race the filling.
    Path filler = stateDir.resolve("filler-fetch");
    try {
      long filled = fillWith(filler, 1 << 20, ROOM_LEFT_FOR_PLACEMENT);
      farm.awaitTrue("host " + HOST + " reports the disk nearly full", Duration.ofSeconds(30),
          () -> client.listHosts().stream().anyMatch(h -> h.getId().equals(HOST)
              && h.getLoad().getDiskFreeMb() < (ROOM_LEFT_FOR_PLACEMENT >> 20) + 50));
      String vmId = client.requestServiceNoWait(FETCHED, "fetch").getVmId();
      filled += fill(filler);
      farm.awaitTrue("an event says the install waits for room", Duration.ofMinutes(10),
          () -> {
            if (client.getVm(vmId).getState() == VmState.VM_STATE_FAILED) {
              throw new AssertionError("the install failed instead of waiting: " + causes(vmId));
            }
            return waitingCause(vmId).isPresent();
          });
      String cause = waitingCause(vmId).orElseThrow();
      assertTrue(cause.contains("No space left on device") && cause.contains("MiB free of")
          && cause.contains(".partial"), cause);
      assertEquals(VmState.VM_STATE_PROVISIONING, client.getVm(vmId).getState(),
          "a new VM waits on its host instead of failing");
      assertEquals(List.of(), leftovers(vmId), "no half-written blob or disk left");
      long waitingEvents = causes(vmId).stream().filter(c -> c.contains("waits for room")).count();

      Files.delete(filler);
      Files.delete(filler.resolveSibling("filler-fetch-tail"));
      long started = System.nanoTime();
      ServiceAccess access = request(FETCHED, "fetch");
      double recoveredAfter = (System.nanoTime() - started) / 1e9;
      assertEquals(vmId, access.vmId(), "the same VM, installed once there was room");
      assertEquals(1, boots(access).size(), "a new VM's first boot");
      assertEquals(1, waitingEvents, "the wait is recorded once, not on every retry");
      System.out.printf("full disk image fetch: failed cleanly with %d MiB filled (%s);"
          + " VM waited in PROVISIONING, no partial file kept; installed and serving %.1f s"
          + " after room was made%n", filled >> 20, cause.substring(cause.indexOf("writing")),
          recoveredAfter);
    } finally {
      Files.deleteIfExists(filler);
      Files.deleteIfExists(filler.resolveSibling("filler-fetch-tail"));
    }
  }

  // --- helpers ---

  private java.util.Optional<String> waitingCause(String vmId) {
    return causes(vmId).stream()
        .filter(c -> c.startsWith("install on host " + HOST + " waits for room")).findFirst();
  }

  /** Files a failed install could leave: a blob's or an overlay's partial file, or a disk. */
  private List<Path> leftovers(String vmId) throws IOException {
    try (var files = Files.walk(stateDir)) {
      return files.filter(f -> f.getFileName().toString().endsWith(".partial")
          || f.getFileName().toString().startsWith(vmId)).toList();
    }
  }

  /**
   * Fills the file system: big blocks first, then, once they are on disk, small ones into the
   * blocks that are left (ext4 keeps some back from a write that outruns its allocation).
   * Returns the bytes written.
   */
  private static long fill(Path filler) throws IOException {
    long written = fillWith(filler, 1 << 20, 0);
    written += fillWith(filler.resolveSibling(filler.getFileName() + "-tail"), 4096, 0);
    return written;
  }

  /** Appends blocks to the file until the disk is full, or has no more than {@code leave} free. */
  private static long fillWith(Path file, int blockSize, long leave) throws IOException {
    byte[] block = new byte[blockSize];
    long written = 0;
    java.nio.file.FileStore disk = Files.getFileStore(file.getParent());
    try (var channel = java.nio.channels.FileChannel.open(file,
        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE,
        java.nio.file.StandardOpenOption.APPEND)) {
      try {
        while (leave == 0 || disk.getUsableSpace() > leave) {
          written += channel.write(java.nio.ByteBuffer.wrap(block));
        }
      } catch (IOException full) {
        if (!String.valueOf(full.getMessage()).contains("No space left")) {
          throw full;
        }
      }
      channel.force(true);
    }
    return written;
  }

  private List<Path> halfWrittenArchives() throws IOException {
    try (var files = Files.walk(stateDir)) {
      return files.filter(f -> f.getFileName().toString().equals("upload.gz")).toList();
    }
  }

  private List<String> boots(ServiceAccess access) throws InterruptedException {
    return RealGuests.httpGet(access.endpoint(), "/boots.txt", Duration.ofSeconds(90)).lines()
        .filter(l -> l.startsWith("boot ")).toList();
  }

  private List<String> causes(String vmId) {
    return client.listEvents(EventFilter.any().forVm(vmId).limit(1000)).stream()
        .map(Event::getCause).toList();
  }

  private ServiceAccess request(String service, String key) {
    long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
    while (true) {
      try {
        return client.requestService(service, key);
      } catch (FarmTimeoutException stillWorking) {
        if (System.nanoTime() > deadline) {
          throw stillWorking;
        }
      }
    }
  }
}
