package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Project;
import org.servicefarm.api.v1.ProjectQuota;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmException;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * A project's quota holds at its edge under a burst of concurrent requests spread over several
 * definitions (so only the quota, not a definition's lock, stands between them), and a changed
 * quota takes effect at the next request.
 */
class ProjectQuotaIntegrationTest {
  private static final int BURST = 200;
  private static final int DEFINITIONS = 10;

  private static InProcessFarm farm;
  private static FarmClient admin;
  private static FarmClient team;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    admin = farm.client();
    // Room for every VM of the burst: only the quota may refuse.
    farm.addHost("sim-1", 64, 65536);
    farm.awaitConnected(List.of("sim-1"));
    admin.projects().create("burst", ProjectQuota.newBuilder().setVms(20).build());
    team = farm.clientWithToken(admin.tokens().create("burst-app", "client", "burst").getSecret());
    for (int d = 0; d < DEFINITIONS; d++) {
      // One lease per VM: every request of the burst wants a VM of its own.
      admin.defineService(ServiceDefinition.newBuilder().setName("burst-" + d)
          .addPackages("busybox").setPort(80).setVcpus(1).setMemoryMb(64).setMaxLeasesPerVm(1)
          .setMaxInstances(1000).setProject("burst").build());
    }
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  /** Sends {@code n} requests at once; answers how many were admitted, and the refusals. */
  private static Outcome burst(int n, String keyPrefix) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      List<Callable<String>> calls = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String service = "burst-" + (i % DEFINITIONS);
        String key = keyPrefix + i;
        calls.add(() -> team.requestServiceNoWait(service, key).getOperationId());
      }
      int admitted = 0;
      List<FarmException> refused = new ArrayList<>();
      for (Future<String> f : pool.invokeAll(calls)) {
        try {
          f.get();
          admitted++;
        } catch (java.util.concurrent.ExecutionException e) {
          refused.add((FarmException) e.getCause());
        }
      }
      return new Outcome(admitted, refused);
    } finally {
      pool.shutdownNow();
    }
  }

  private record Outcome(int admitted, List<FarmException> refused) {}

  @Test
  void aBurstAtTheEdgeNeverPassesTheQuotaAndAChangedQuotaHoldsAtOnce() throws Exception {
    Outcome first = burst(BURST, "first-");
    assertEquals(20, first.admitted(), "exactly the quota's VMs are admitted");
    assertEquals(BURST - 20, first.refused().size());
    for (FarmException e : first.refused()) {
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.code(), e.getMessage());
      assertTrue(e.getMessage().contains("quota vms of project 'burst'")
          && e.getMessage().contains("usage 20") && e.getMessage().contains("limit 20"),
          e.getMessage());
    }
    Project usage = team.projects().usage("");
    assertEquals(20, usage.getUsage().getVms());
    assertEquals(20, usage.getUsage().getVcpus());
    assertEquals(20 * 64, usage.getUsage().getMemoryMb());

    // Raised without a restart: exactly the difference is admitted next.
    admin.projects().setQuota("burst", ProjectQuota.newBuilder().setVms(25).setVcpus(30).build());
    Outcome raised = burst(40, "raised-");
    assertEquals(5, raised.admitted());
    assertEquals(25, team.projects().usage("").getUsage().getVms());

    // Now the vCPU limit is the one that binds, and the refusal says so.
    admin.projects().setQuota("burst", ProjectQuota.newBuilder().setVms(-1).setVcpus(26).build());
    Outcome vcpus = burst(10, "vcpus-");
    assertEquals(1, vcpus.admitted());
    assertTrue(vcpus.refused().get(0).getMessage().contains("quota vcpus of project 'burst'"),
        vcpus.refused().get(0).getMessage());
    Project after = admin.projects().usage("burst");
    assertEquals(26, after.getQuota().getVcpus());
    assertTrue(!after.getQuota().hasVms(), "a negative limit removes it");
  }

  @Test
  void anImageUploadedInAProjectCountsAgainstItsStoredBytes() throws Exception {
    admin.projects().create("images", ProjectQuota.newBuilder().setStoredBytes(1_500_000).build());
    java.nio.file.Path file = java.nio.file.Files.createTempFile("project-image", ".raw");
    byte[] bytes = new byte[1 << 20];
    new java.util.Random(16).nextBytes(bytes);
    java.nio.file.Files.write(file, bytes);
    try (FarmClient inProject = farm.clientInProject(farm.adminToken(), "images")) {
      assertEquals("images", inProject.uploadImage("team-disk", "raw", file,
          java.time.Duration.ofMinutes(1)).getProject());
      assertEquals(1 << 20, admin.projects().usage("images").getUsage().getStoredBytes());
      FarmException over = org.junit.jupiter.api.Assertions.assertThrows(FarmException.class,
          () -> inProject.uploadImage("team-disk-2", "raw", file, java.time.Duration.ofMinutes(1)));
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, over.code(), over.getMessage());
      assertTrue(over.getMessage().contains("quota stored_bytes of project 'images'"),
          over.getMessage());
    } finally {
      java.nio.file.Files.delete(file);
    }
    // Another project neither sees the image nor may build from it.
    FarmClient burstAdmin = farm.clientWithToken(
        admin.tokens().create("burst-admin", "admin", "burst").getSecret());
    assertTrue(burstAdmin.listImages().stream().noneMatch(i -> i.getName().equals("team-disk")));
    FarmException hidden = org.junit.jupiter.api.Assertions.assertThrows(FarmException.class,
        () -> burstAdmin.defineService(ServiceDefinition.newBuilder().setName("from-their-disk")
            .setImage("team-disk").setPort(80).build()));
    assertEquals(Status.Code.NOT_FOUND, hidden.code(), hidden.getMessage());
  }

  @Test
  void anArchiveCountsToItsProjectsStoredBytesUntilItsVmIsDeleted() throws Exception {
    admin.projects().create("archives", ProjectQuota.newBuilder().setStoredBytes(1).build());
    admin.defineService(ServiceDefinition.newBuilder().setName("archived-web")
        .addPackages("busybox").setPort(80).setVcpus(1).setMemoryMb(64)
        .setProject("archives").build());
    String vmId;
    try (FarmClient inProject = farm.clientInProject(farm.adminToken(), "archives")) {
      org.servicefarm.client.ServiceAccess access = inProject.requestService("archived-web");
      vmId = access.vmId();
      inProject.releaseLease(access.lease().id());
    }
    assertEquals(0, admin.projects().usage("archives").getUsage().getStoredBytes(),
        "nothing stored before the archive");

    assertEquals(org.servicefarm.api.v1.VmState.VM_STATE_ARCHIVED,
        admin.archiveVm(vmId, true).getState());

    long stored = admin.projects().usage("archives").getUsage().getStoredBytes();
    assertTrue(stored > 0, "the archive's bytes count to its project: " + stored);
    java.nio.file.Path file = java.nio.file.Files.createTempFile("archives-image", ".raw");
    java.nio.file.Files.write(file, new byte[4096]);
    try (FarmClient inProject = farm.clientInProject(farm.adminToken(), "archives")) {
      FarmException over = org.junit.jupiter.api.Assertions.assertThrows(FarmException.class,
          () -> inProject.uploadImage("after-archive", "raw", file,
              java.time.Duration.ofMinutes(1)));
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, over.code(), over.getMessage());
      assertTrue(over.getMessage().contains("usage " + stored), over.getMessage());
    } finally {
      java.nio.file.Files.delete(file);
    }

    admin.deleteVm(vmId, true);
    assertEquals(0, admin.projects().usage("archives").getUsage().getStoredBytes(),
        "a deleted VM's archive no longer counts");
  }
}
