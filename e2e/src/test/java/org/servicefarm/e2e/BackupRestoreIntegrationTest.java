package org.servicefarm.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.ServiceAccess;

/**
 * {@code servicefarm-controller backup} taken from a running farm whose blobs are in an object
 * store (S3Proxy), its database then lost; {@code restore} into a new, empty PostgreSQL brings
 * back the same services and VMs: the active VM answers, the sleeping one wakes, the archived one
 * is restored from the bucket. Real processes; agents on libvirt's test driver, which keep their
 * simulated guests across the controller's change of database.
 */
class BackupRestoreIntegrationTest {
  private static final List<String> HOSTS = List.of("br-1", "br-2");

  @Test
  void aBackupRestoredIntoANewDatabaseBringsBackEveryServiceAndVm() throws Exception {
    try (ProcessFarm farm = new ProcessFarm("test:///default");
        StandalonePostgres lost = new StandalonePostgres(farm.dir().resolve("postgres-lost"));
        ObjectStoreServer objectStore = new ObjectStoreServer(farm.dir().resolve("s3"),
            "farm-blobs")) {
      List<String> storeArgs = new ArrayList<>(objectStore.controllerArgs("farm"));
      farm.useDatabase(lost);
      farm.startController(storeArgs, objectStore.controllerEnv());
      for (String host : HOSTS) {
        farm.startAgent(host);
      }
      farm.awaitConnected(HOSTS);
      FarmClient client = farm.client();
      for (String name : List.of("br-active", "br-sleeping", "br-archived")) {
        client.defineService(ServiceDefinition.newBuilder().setName(name)
            .addPackages("busybox").setPort(80).setVcpus(1).setMemoryMb(128).build());
      }
      String active = client.requestService("br-active").vmId();
      String sleeping = client.requestService("br-sleeping").vmId();
      String archived = client.requestService("br-archived").vmId();
      assertEquals(VmState.VM_STATE_SLEEPING, client.suspendVm(sleeping).getState());
      assertEquals(VmState.VM_STATE_ARCHIVED, client.archiveVm(archived).getState());
      Map<String, VmState> before = states(client);

      // Online: the farm keeps serving while the backup reads one snapshot.
      Path backup = farm.dir().resolve("farm.backup");
      List<String> common = new ArrayList<>(storeArgs);
      common.addAll(objectStore.credentialArgs());
      CommandRun taken = controllerCommand(farm, common, List.of("--database-url",
          lost.jdbcUrl(), "--database-user", lost.user()), "backup", backup.toString());
      assertEquals(0, taken.exitCode(), taken.err());
      assertTrue(taken.out().contains("missing from the blob store: 0"), taken.out());

      // The database dies; the controller with it. A new, empty PostgreSQL takes its place.
      farm.stopController();
      lost.stop();
      ProcessFarm.deleteTree(farm.dir().resolve("postgres-lost").resolve("pgdata"));
      try (StandalonePostgres fresh = new StandalonePostgres(farm.dir().resolve("postgres-new"))) {
        CommandRun restored = controllerCommand(farm, common, List.of("--database-url",
            fresh.jdbcUrl(), "--database-user", fresh.user()), "restore", backup.toString());
        assertEquals(0, restored.exitCode(), restored.err() + restored.out());
        CommandRun again = controllerCommand(farm, common, List.of("--database-url",
            fresh.jdbcUrl(), "--database-user", fresh.user()), "restore", backup.toString());
        assertEquals(1, again.exitCode(), "a second restore into the same database is refused");
        assertTrue(again.err().contains("already holds a farm"), again.err());

        // Nothing of the old controller's local copies helps: every blob comes from the bucket.
        ProcessFarm.deleteTree(farm.dir().resolve("controller").resolve("blob-cache"));
        farm.useDatabase(fresh);
        farm.startController(storeArgs, objectStore.controllerEnv());
        farm.awaitConnected(HOSTS);
        assertEquals(before, states(client), "the same VMs in the same states");
        assertEquals(List.of("br-active", "br-archived", "br-sleeping"),
            client.listServiceDefinitions().stream().map(ServiceDefinition::getName).sorted()
                .toList());

        long started = System.nanoTime();
        for (Map.Entry<String, String> expected : Map.of("br-active", active,
            "br-sleeping", sleeping, "br-archived", archived).entrySet()) {
          ServiceAccess access = client.requestService(expected.getKey());
          assertEquals(expected.getValue(), access.vmId(), expected.getKey() + ": the same VM");
          assertEquals(VmState.VM_STATE_ACTIVE, client.getVm(access.vmId()).getState());
        }
        double servedSeconds = (System.nanoTime() - started) / 1e9;
        assertEquals(3, client.listVms().size(), "no VM built anew");
        System.out.printf("backup and restore: %s; restored into a new database, the active,"
                + " sleeping and archived VMs served again in %.1f s%n",
            taken.out().strip(), servedSeconds);
      }
    }
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
