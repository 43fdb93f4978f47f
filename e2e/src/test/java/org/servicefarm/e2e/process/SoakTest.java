package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.servicefarm.e2e.support.FarmLeftovers;
import org.servicefarm.e2e.support.BenchmarkTable;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.RealGuestTest;
import org.servicefarm.e2e.support.RealGuests;
import org.servicefarm.e2e.support.StandalonePostgres;

/**
 * A soak of a farm of real processes and a real QEMU guest: requests, releases, the idle ladder
 * (sleep, archive, wake, restore), agent and controller restarts, for a while; then nothing may
 * have leaked and no controller may have grown. Three minutes in {@code ./farm test}; {@code
 * ./farm soak [--minutes N]} runs it for 30 minutes or N (environment variable
 * {@value #MINUTES_VARIABLE}). The counts are printed and saved in e2e/target/benchmarks/soak.md.
 */
@RealGuestTest
class SoakTest {
  static final String MINUTES_VARIABLE = "FARM_SOAK_MINUTES";
  private static final double HEAP_GROWTH_ALLOWED = 0.10;
  // A controller's heap after a full collection is only ~15 MiB, where 10 % is within the noise
  // of what a collection leaves (buffers, softly held caches): growth under this never counts.
  private static final double HEAP_GROWTH_FLOOR_MIB = 2.0;
  private static final double FD_GROWTH_ALLOWED = 0.10;

  @Test
  void aFarmUnderMixedLoadAndRestartsLeaksNothingAndKeepsItsMemoryFlat() throws Exception {
    RealGuests.requireLibvirtd();
    Duration duration = Duration.ofMinutes(minutes());
    // Host ids name this run's domains apart from other farms sharing this libvirtd.
    String hostId = "soak-" + Long.toString(System.nanoTime() % 1_000_000, 36);
    Path dir = Files.createTempDirectory("servicefarm-soak");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    StandalonePostgres postgres = new StandalonePostgres(dir.resolve("db"));
    ProcessFarm farm = new ProcessFarm("qemu:///system");
    try {
      farm.useDatabase(postgres);
      farm.startController();
      farm.startAgent(hostId);
      farm.awaitConnected(List.of(hostId));
      SoakChecks checks = new SoakChecks(postgres.jdbcUrl(), postgres.user());
      SoakRun soak = new SoakRun(farm, hostId, checks);
      soak.warmUp();
      long started = System.nanoTime();
      soak.run(duration);
      Duration ran = Duration.ofNanos(System.nanoTime() - started);
      farm.awaitTrue("every VM settled", Duration.ofMinutes(3), () -> {
        try {
          return checks.unsettled().isEmpty();
        } catch (java.sql.SQLException e) {
          throw new AssertionError("cannot read the VM table", e);
        }
      });
      soak.finish();
      report(farm, hostId, checks, soak, ran);
    } catch (AssertionError | Exception e) {
      System.err.println(farm.logs());
      throw e;
    } finally {
      farm.close();
      postgres.close();
      FarmLeftovers.deleteTree(dir);
    }
  }

  private static void report(ProcessFarm farm, String hostId, SoakChecks checks, SoakRun soak,
      Duration ran) throws Exception {
    List<String> leakedDomains = checks.leakedDomains(hostId);
    List<String> missingDomains = checks.missingDomains(hostId);
    List<String> leakedFiles = checks.leakedFiles(hostId, farm.dir().resolve("agent-" + hostId));
    Set<String> liveLeases = checks.liveLeases();
    Set<String> stored = SoakChecks.storedBlobs(farm.dir().resolve("controller").resolve("blobs"));
    Set<String> referenced = checks.referencedBlobs();
    Set<String> unreferenced = new TreeSet<>(stored);
    unreferenced.removeAll(referenced);
    // A VM archived again points at its new archive; the one before stays in the store.
    Set<String> superseded = new TreeSet<>(unreferenced);
    superseded.retainAll(soak.archivesSeen());
    unreferenced.removeAll(superseded);
    Set<String> missingBlobs = new TreeSet<>(referenced);
    missingBlobs.removeAll(stored);
    List<String> unsettled = checks.unsettled();

    BenchmarkTable table = new BenchmarkTable("Soak: " + BenchmarkTable.seconds(ran)
        + " of mixed load on one real guest", "What", "Count");
    table.row("cycles", soak.cycles);
    table.row("requests / releases", soak.requests + " / " + soak.releases);
    table.row("pages served by the guest", soak.pagesServed);
    table.row("requests asked again after the farm's wait for a boot ran out", soak.timeouts);
    table.row("agent restarts (SIGKILL) / controller restarts", soak.agentRestarts + " / "
        + soak.controllerRestarts);
    checks.transitions().forEach((state, count) -> table.row("VM transitions to " + state, count));
    table.row("VMs in the table", checks.vms().size());
    table.row("leaked domains / missing domains", leakedDomains.size() + " / "
        + missingDomains.size());
    table.row("leaked files on the host", leakedFiles.size());
    table.row("live leases / held by the client", liveLeases.size() + " / "
        + soak.heldLeases().size());
    table.row("blobs stored / referenced / missing", stored.size() + " / " + referenced.size()
        + " / " + missingBlobs.size());
    table.row("archives made / superseded, still stored", soak.archivesSeen().size() + " / "
        + superseded.size());
    table.row("other unreferenced blobs", unreferenced.size());
    table.row("VMs in a transitional state", unsettled.size());
    List<String> grown = new ArrayList<>();
    for (SoakRun.ProcessSample p : soak.controllers()) {
      table.row("controller " + p.pid() + ": heap after GC start / end (MiB)",
          String.format("%.1f / %.1f", p.heapStartMib(), p.heapEndMib()));
      table.row("controller " + p.pid() + ": open fds start / end", p.fdsStart() + " / "
          + p.fdsEnd());
      table.row("controller " + p.pid() + ": database sessions start / end", p.sessionsStart()
          + " / " + p.sessionsEnd());
      double heapAllowed = Math.max(p.heapStartMib() * HEAP_GROWTH_ALLOWED, HEAP_GROWTH_FLOOR_MIB);
      if (p.heapEndMib() > p.heapStartMib() + heapAllowed) {
        grown.add("controller " + p.pid() + " heap " + p.heapStartMib() + " -> " + p.heapEndMib());
      }
      if (p.fdsEnd() > p.fdsStart() * (1 + FD_GROWTH_ALLOWED)) {
        grown.add("controller " + p.pid() + " fds " + p.fdsStart() + " -> " + p.fdsEnd());
      }
      if (p.sessionsEnd() > p.sessionsStart()) {
        grown.add("controller " + p.pid() + " database sessions " + p.sessionsStart() + " -> "
            + p.sessionsEnd());
      }
    }
    table.note("Heap: used after a full collection (jcmd GC.run; GC.heap_info), sampled when each"
        + " controller process had served its first cycle and again before it stopped; it may"
        + " grow by 10 % or 2 MiB, whichever is more.");
    table.note("Superseded archives: a VM archived again refers to its new archive only; the"
        + " farm deletes no blob, so each earlier archive stays in the blob store (see"
        + " docs/operations.md, Soak).");
    table.publish("soak.md");

    assertEquals(List.of(), leakedDomains, "libvirt domains no VM row accounts for");
    assertEquals(List.of(), missingDomains, "running or sleeping VMs with no domain");
    assertEquals(List.of(), leakedFiles, "host files of VMs that are not on the host");
    assertEquals(soak.heldLeases(), liveLeases, "live leases are exactly the ones still held");
    assertEquals(Set.of(), missingBlobs, "blobs a row refers to but the store lacks");
    assertEquals(Set.of(), unreferenced, "blobs no row refers to, other than superseded archives");
    assertEquals(List.of(), unsettled, "VMs stuck in a transitional state");
    assertEquals(List.of(), grown, "what a controller process held grew during the soak");
    assertTrue(soak.controllerRestarts >= 1 && soak.agentRestarts >= 1,
        "the soak restarted the controller and the agent at least once");
  }

  private static long minutes() {
    String value = System.getenv(MINUTES_VARIABLE);
    if (value == null || value.isBlank()) {
      return 3;
    }
    String wrong = MINUTES_VARIABLE + " must be a whole number of minutes (at least 1), not '"
        + value + "'";
    long minutes;
    try {
      minutes = Long.parseLong(value.strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(wrong, e);
    }
    if (minutes < 1) {
      throw new IllegalArgumentException(wrong);
    }
    return minutes;
  }
}
