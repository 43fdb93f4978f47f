package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.servicefarm.api.v1.Event;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.EventFilter;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * A sleep the host cannot carry out leaves the VM as it was (ACTIVE, wanted ACTIVE again) with
 * the host's reason in the event, instead of FAILED; on a real PostgreSQL, in-process gRPC and
 * libvirt's test driver, where the host's domain is taken away under the VM to make it fail.
 * (A real full disk under an archive is FullDiskIntegrationTest.)
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FailedSleepIntegrationTest {
  private InProcessFarm farm;
  private FarmClient client;

  @BeforeAll
  void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    client = farm.client();
    farm.addHost("sim-sleep", 4, 4096);
    farm.awaitConnected(List.of("sim-sleep"));
  }

  @AfterAll
  void stop() throws Exception {
    farm.close();
  }

  @Test
  void aSleepTheHostCannotCarryOutLeavesTheVmActiveWithTheReason() throws Exception {
    client.defineService(ServiceDefinition.newBuilder().setName("sleepless").addPackages("busybox")
        .setPort(80).setVcpus(1).setMemoryMb(256).build());
    ServiceAccess access = client.requestService("sleepless");
    client.releaseLease(access.lease().id());
    farm.host("sim-sleep").hypervisor.delete(access.vmId());

    Vm after = client.suspendVm(access.vmId());

    assertEquals(VmState.VM_STATE_ACTIVE, after.getState(), "not FAILED");
    assertEquals(VmState.VM_STATE_ACTIVE, after.getDesiredState(), "wanted as it was");
    List<String> causes = client.listEvents(EventFilter.any().forVm(access.vmId())).stream()
        .map(Event::getCause).toList();
    assertTrue(causes.stream().anyMatch(c -> c.startsWith("sleep failed on host sim-sleep: ")
        && c.contains("not defined on this host") && c.contains("it stays ACTIVE")),
        causes.toString());
  }
}
