package org.servicefarm.client.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.BundledService;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.VmState;

/** farmctl's service and image commands end to end against the fake farm. */
class FarmCtlCatalogTest extends FarmCtlFixture {
  @Test
  void serviceDefineStatelessMarksTheDefinitionAndTheListingSaysSo() {
    Run run = farmctl("service", "define", "cache", "--packages", "redis-server", "--port",
        "6379", "--stateless");

    assertEquals(0, run.exitCode(), run.err());
    assertTrue(farm.admin.definitions.get(0).getStateless());
    assertTrue(run.out().contains(",stateless"), run.out());
  }

  @Test
  void serviceDefineSendsTheDefinition() {
    Run run = farmctl("service", "define", "static-web", "--packages", "nginx-light,curl",
        "--port", "80", "--memory-mb", "512", "--bundle", "metrics:9100");

    assertEquals(0, run.exitCode(), run.err());
    ServiceDefinition sent = farm.admin.definitions.get(0);
    assertEquals(List.of("nginx-light", "curl"), sent.getPackagesList());
    assertEquals(80, sent.getPort());
    assertEquals(1, sent.getVcpus());
    assertEquals(512, sent.getMemoryMb());
    assertEquals(List.of(BundledService.newBuilder().setName("metrics").setPort(9100).build()),
        sent.getBundledList());
    assertEquals(1, sent.getMaxInstances(), "one VM unless told otherwise");
  }

  @Test
  void serviceDeleteOfADefinitionWithVmsExitsEightAndForcePrintsTheDeletedVms() {
    farm.admin.definitions.add(ServiceDefinition.newBuilder().setName("redis").build());
    farm.admin.vms.add(vm("vm-1", VmState.VM_STATE_ACTIVE).toBuilder().addServices("redis").build());

    Run refused = farmctl("service", "delete", "redis");
    Run forced = farmctl("service", "delete", "redis", "--force");

    assertEquals(8, refused.exitCode(), refused.err());
    assertEquals(1, refused.err().lines().count(), refused.err());
    assertTrue(refused.err().contains("definition 'redis' has VMs [vm-1]"), refused.err());
    assertEquals(0, forced.exitCode(), forced.err());
    assertEquals(List.of("SERVICE  DELETED  DELETED_VMS", "redis    yes      vm-1"),
        forced.out().lines().toList());
  }

  @Test
  void serviceDefineSendsTheIdleLadderAndInstanceLimits() {
    Run run = farmctl("service", "define", "api", "--image", "api-v3", "--port", "8080",
        "--sleep-after", "300", "--archive-after", "86400", "--delete-after", "604800",
        "--min-active", "1", "--max-leases-per-vm", "20", "--max-instances", "4");

    assertEquals(0, run.exitCode(), run.err());
    ServiceDefinition sent = farm.admin.definitions.get(0);
    assertEquals(List.of(300, 86400, 604800, 1, 20, 4), List.of(sent.getSleepAfterSeconds(),
        sent.getArchiveAfterSeconds(), sent.getDeleteAfterSeconds(), sent.getMinActive(),
        sent.getMaxLeasesPerVm(), sent.getMaxInstances()));
  }

  @Test
  void serviceDefineOfAnImageWithoutPortLeavesPortAndCommandToTheImage() {
    Run run = farmctl("service", "define", "web", "--image", "web-oci");

    assertEquals(0, run.exitCode(), run.err());
    ServiceDefinition sent = farm.admin.definitions.get(0);
    assertEquals("web-oci", sent.getImage());
    assertEquals(0, sent.getPort(), "an OCI image's exposed port is the controller's to fill in");
    assertEquals("", sent.getCommand());
  }

  @Test
  void serviceDefineWithPackagesAndImageIsAUsageError() {
    Run run = farmctl("service", "define", "x", "--packages", "a", "--image", "b", "--port", "1");

    assertEquals(2, run.exitCode());
    assertTrue(farm.admin.definitions.isEmpty());
    assertTrue(run.err().contains("mutually exclusive"), run.err());
  }

  @Test
  void imageRegisterAnswersTheCatalogEntry() {
    Run run = farmctl("image", "register", "pg16", "--path", "/srv/images/pg16.qcow2",
        "--size", "1048576", "-o", "json");

    assertEquals(0, run.exitCode(), run.err());
    assertEquals("qcow2", farm.admin.images.get(0).getFormat());
    assertEquals("/srv/images/pg16.qcow2", farm.admin.images.get(0).getSourcePath());
    assertTrue(run.out().contains("\"sizeBytes\": \"1048576\""), run.out());
  }

  @Test
  void imageGcDryRunShowsWhatWouldGoAndWhatItFrees() {
    Run run = farmctl("image", "gc", "--dry-run");

    assertEquals(0, run.exitCode(), run.err());
    assertEquals(Boolean.TRUE, farm.admin.lastCollectDryRun);
    assertTrue(run.out().contains("ab".repeat(32)), run.out());
    assertTrue(run.out().contains("would remove 1 blobs, 4096 bytes"), run.out());
  }
}
