package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmTimeoutException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.FarmLeftovers;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.CommandRun;
import org.servicefarm.e2e.support.FarmJars;
import org.servicefarm.e2e.support.ObjectStoreServer;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.RealGuestTest;
import org.servicefarm.e2e.support.RealGuests;
import org.servicefarm.e2e.support.StandalonePostgres;

/**
 * {@code servicefarm-controller backup} taken from a running farm whose blobs are in an object
 * store (S3Proxy), its database then lost; {@code restore} into a new, empty PostgreSQL brings
 * back the same services and VMs: the active VM answers, the sleeping one wakes, the archived one
 * is restored from the bucket. Once with agents on libvirt's test driver (simulated guests that
 * the agents keep across the controller's change of database), once with real QEMU guests that
 * serve HTTP again after the restore.
 */
@RealGuestTest
class BackupRestoreIntegrationTest {
  private static final List<String> SERVICES = List.of("br-active", "br-sleeping", "br-archived");

  @Test
  void aBackupRestoredIntoANewDatabaseBringsBackEveryServiceAndVm() throws Exception {
    String figures = backupLoseRestore("test:///default", List.of("br-1", "br-2"),
        name -> ServiceDefinition.newBuilder().setName(name).addPackages("busybox").setPort(80)
            .setVcpus(1).setMemoryMb(128).build(), Duration.ofSeconds(90), false);
    System.out.printf("backup and restore (simulated guests): %s%n", figures);
  }

  @Test
  void aBackupRestoredIntoANewDatabaseBringsBackRealGuestsThatServe() throws Exception {
    RealGuests.requireLibvirtd();
    // A host id of its own, so domains of other farms sharing libvirtd are not counted.
    String host = "br-" + UUID.randomUUID().toString().substring(0, 6);
    String figures = backupLoseRestore("qemu:///system", List.of(host),
        name -> ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
            .setCommand("busybox httpd -f -p 80 -h /srv/www").setPort(80).setVcpus(1)
            .setMemoryMb(256).build(), Duration.ofMinutes(15), true);
    System.out.printf("backup and restore (real guests): %s%n", figures);
  }

  private interface Definitions {
    ServiceDefinition named(String name);
  }

  /**
   * Builds an active, a sleeping and an archived VM, backs the farm up while it runs, loses its
   * database, restores into a new one and requests each service; returns the figures.
   */
  private static String backupLoseRestore(String libvirtUri, List<String> hosts,
      Definitions definitions, Duration patience, boolean realGuests) throws Exception {
    // The databases and the store outlive the farm's processes, which are stopped first (and
    // its real guests removed while the controller can still list them).
    Path work = Files.createTempDirectory("servicefarm-backup");
    Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
    try (StandalonePostgres lost = new StandalonePostgres(work.resolve("postgres-lost"));
        StandalonePostgres fresh = new StandalonePostgres(work.resolve("postgres-new"));
        ObjectStoreServer objectStore = new ObjectStoreServer(work.resolve("s3"), "farm-blobs");
        ProcessFarm farm = new ProcessFarm(libvirtUri)) {
      List<String> storeArgs = new ArrayList<>(objectStore.controllerArgs("farm"));
      farm.useDatabase(lost);
      farm.startController(storeArgs, objectStore.controllerEnv());
      for (String host : hosts) {
        farm.startAgent(host);
      }
      farm.awaitConnected(hosts);
      FarmClient client = farm.client(patience);
      SERVICES.forEach(name -> client.defineService(definitions.named(name)));
      Map<String, String> vmOf = new LinkedHashMap<>();
      for (String name : SERVICES) {
        vmOf.put(name, patiently(() -> client.requestService(name, "first-" + name), patience)
            .vmId());
      }
      String sleeping = vmOf.get("br-sleeping");
      String archived = vmOf.get("br-archived");
      // The first requests' leases are live: the operator forces the sleep and the archive.
      settle(client, sleeping, VmState.VM_STATE_SLEEPING, () -> client.suspendVm(sleeping, true),
          patience);
      settle(client, archived, VmState.VM_STATE_ARCHIVED, () -> client.archiveVm(archived, true),
          patience);
      Map<String, VmState> before = states(client);

      // Online: the farm keeps serving while the backup reads one snapshot.
      Path backup = work.resolve("farm.backup");
      List<String> common = new ArrayList<>(storeArgs);
      common.addAll(objectStore.credentialArgs());
      CommandRun taken = controllerCommand(farm, common, List.of("--database-url",
          lost.jdbcUrl(), "--database-user", lost.user()), "backup", backup.toString());
      assertEquals(0, taken.exitCode(), taken.err());
      assertTrue(taken.out().contains("missing from the blob store: 0"), taken.out());

      // The database dies; the controller with it. A new, empty PostgreSQL takes its place.
      farm.stopController();
      lost.stop();
      FarmLeftovers.deleteTree(work.resolve("postgres-lost").resolve("pgdata"));
      CommandRun restored = controllerCommand(farm, common, List.of("--database-url",
          fresh.jdbcUrl(), "--database-user", fresh.user()), "restore", backup.toString());
      assertEquals(0, restored.exitCode(), restored.err() + restored.out());
      CommandRun again = controllerCommand(farm, common, List.of("--database-url",
          fresh.jdbcUrl(), "--database-user", fresh.user()), "restore", backup.toString());
      assertEquals(1, again.exitCode(), "a second restore into the same database is refused");
      assertTrue(again.err().contains("already holds a farm"), again.err());

      // Nothing of the old controller's local copies helps: every blob comes from the bucket.
      FarmLeftovers.deleteTree(farm.dir().resolve("controller").resolve("blob-cache"));
      farm.useDatabase(fresh);
      farm.startController(storeArgs, objectStore.controllerEnv());
      farm.awaitConnected(hosts);
      assertEquals(before, states(client), "the same VMs in the same states");
      assertEquals(SERVICES.stream().sorted().toList(), client.listServiceDefinitions()
          .stream().map(ServiceDefinition::getName).sorted().toList());

      long started = System.nanoTime();
      for (Map.Entry<String, String> expected : vmOf.entrySet()) {
        ServiceAccess access = patiently(() -> client.requestService(expected.getKey(),
            "after-" + expected.getKey()), patience);
        assertEquals(expected.getValue(), access.vmId(), expected.getKey() + ": the same VM");
        assertEquals(VmState.VM_STATE_ACTIVE, client.getVm(access.vmId()).getState());
        if (realGuests) {
          // The guest's page names its VM: the disk is the one from before the backup.
          assertTrue(RealGuests.httpGet(access.endpoint(), Duration.ofSeconds(30))
              .contains(access.vmId()), expected.getKey() + " serves its page");
        }
      }
      double servedSeconds = (System.nanoTime() - started) / 1e9;
      assertEquals(3, client.listVms().size(), "no VM built anew");
      return String.format("%s; restored into a new database, the active, sleeping and"
          + " archived VMs served again in %.1f s", taken.out().strip(), servedSeconds);
    } finally {
      FarmLeftovers.deleteTree(work);
    }
  }

  /** A call that may outlast the controller's wait (a busy machine): repeated, it joins. */
  private static <T> T patiently(Supplier<T> call, Duration patience) {
    long deadline = System.nanoTime() + patience.toNanos();
    while (true) {
      try {
        return call.get();
      } catch (FarmTimeoutException notYet) {
        if (System.nanoTime() > deadline) {
          throw notYet;
        }
      }
    }
  }

  /** Asks for an admin action and waits until the VM is in the state it leads to. */
  private static void settle(FarmClient client, String vmId, VmState state,
      Supplier<Vm> action, Duration patience) {
    try {
      action.get();
    } catch (FarmTimeoutException slow) {
      // The action goes on in the farm; the wait below sees it through.
    }
    Await.until("VM " + vmId + " " + state, patience,
        () -> client.getVm(vmId).getState() == state);
  }

  private static Map<String, VmState> states(FarmClient client) {
    return client.listVms().stream().collect(Collectors.toMap(Vm::getId, Vm::getState));
  }

  /** Runs the controller's jar as a one-off command (backup, restore) and waits for its end. */
  private static CommandRun controllerCommand(ProcessFarm farm, List<String> storeArgs,
      List<String> databaseArgs, String... command) throws Exception {
    List<String> args = new ArrayList<>(List.of("--data-dir",
        farm.dir().resolve("controller").toString()));
    args.addAll(databaseArgs);
    args.addAll(storeArgs);
    args.addAll(List.of(command));
    Files.createDirectories(farm.dir().resolve("runs"));
    return CommandRun.java(farm.dir().resolve("runs"), FarmJars.controller(),
        args.toArray(String[]::new));
  }
}
