package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.servicefarm.agent.hypervisor.DomainSpec;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.api.v1.Event;
import org.servicefarm.api.v1.ImageRef;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.EventFilter;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.controller.ControllerConfig;
import org.servicefarm.controller.reconcile.OrphanPolicy;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * The orphan policy on libvirt's test driver: a farm domain on a host that the VM table does not
 * place there. The orphans here are made the way a real one comes about, by the host's own
 * hypervisor layer defining a domain the controller never recorded.
 */
class OrphanPolicyIntegrationTest {
  private static final Duration GRACE = Duration.ofSeconds(2);

  @Test
  void byDefaultAnOrphanIsReportedAndLeftAlone() throws Exception {
    try (InProcessFarm farm = new InProcessFarm(InProcessFarm.fastConfig())) {
      farm.addHost("sim-1", 4, 2048);
      farm.awaitConnected(List.of("sim-1"));
      String orphan = defineOrphan(farm, "sim-1", UUID.randomUUID().toString());
      Await.until("an ORPHAN event", Duration.ofSeconds(15), () -> !orphanEvents(farm, orphan).isEmpty());
      assertTrue(orphanEvents(farm, orphan).get(0).getCause().contains("left untouched"),
          orphanEvents(farm, orphan).toString());
      Thread.sleep(GRACE.multipliedBy(2).toMillis()); // past what a delete policy would wait
      assertTrue(domainExists(farm, "sim-1", orphan), "report only: the domain stays");
      assertEquals(1, orphanEvents(farm, orphan).size(), "announced once, not every report");
    }
  }

  @Test
  void withDeleteAnUnclaimedOrphanIsRemovedAfterItsGrace() throws Exception {
    try (InProcessFarm farm = new InProcessFarm(deleting())) {
      farm.addHost("sim-1", 4, 2048);
      farm.awaitConnected(List.of("sim-1"));
      long defined = System.nanoTime();
      String orphan = defineOrphan(farm, "sim-1", UUID.randomUUID().toString());
      Await.until("the orphan removed", Duration.ofSeconds(20),
          () -> !domainExists(farm, "sim-1", orphan));
      assertTrue(Duration.ofNanos(System.nanoTime() - defined).compareTo(GRACE) >= 0,
          "not removed before its grace period");
      Await.until("the removal recorded", Duration.ofSeconds(5),
          () -> orphanEvents(farm, orphan).size() == 2);
      List<Event> events = orphanEvents(farm, orphan);
      assertTrue(events.get(0).getCause().contains("to be deleted once unclaimed"), events.toString());
      assertEquals("DELETED", events.get(1).getToState(), events.toString());
    }
  }

  @Test
  void withDeleteADomainOfAVmTheTableKnowsIsNeverRemoved() throws Exception {
    try (InProcessFarm farm = new InProcessFarm(deleting())) {
      farm.addHost("sim-1", 4, 2048);
      farm.addHost("sim-2", 4, 2048);
      farm.awaitConnected(List.of("sim-1", "sim-2"));
      farm.client().defineService(ServiceDefinition.newBuilder().setName("kept").addPackages("busybox").setPort(80)
          .setVcpus(1).setMemoryMb(256).build());
      ServiceAccess held = farm.client().requestService("kept", "kept-1", Duration.ofMinutes(5));
      String home = farm.client().getVm(held.vmId()).getHostId();
      String other = home.equals("sim-1") ? "sim-2" : "sim-1";
      // A second domain of the same VM on the other host: a duplicate left over, but the VM is
      // in the table and leased, so no policy may take a domain of it.
      defineOrphan(farm, other, held.vmId());
      Await.until("an ORPHAN event", Duration.ofSeconds(15),
          () -> !orphanEvents(farm, held.vmId()).isEmpty());
      assertTrue(orphanEvents(farm, held.vmId()).get(0).getCause().contains("kept"),
          orphanEvents(farm, held.vmId()).toString());
      Thread.sleep(GRACE.multipliedBy(3).toMillis());
      assertTrue(domainExists(farm, other, held.vmId()), "a claimed domain stays");
      assertTrue(domainExists(farm, home, held.vmId()));
      assertEquals(VmState.VM_STATE_ACTIVE, farm.client().getVm(held.vmId()).getState());
      assertEquals(1, orphanEvents(farm, held.vmId()).size(), "nothing removed, nothing more said");
    }
  }

  private static ControllerConfig deleting() {
    return InProcessFarm.fastConfig()
        .withOrphans(new OrphanPolicy.Settings(OrphanPolicy.Mode.DELETE, GRACE));
  }

  /** Defines a farm domain for the VM id through the host's own hypervisor layer. */
  private static String defineOrphan(InProcessFarm farm, String hostId, String vmId)
      throws HypervisorException {
    farm.host(hostId).hypervisor.install(new DomainSpec(vmId, 1,
        ImageRef.newBuilder().setName("orphan-image").setFormat("raw").build(), 1, 128,
        List.of(80)));
    return vmId;
  }

  private static boolean domainExists(InProcessFarm farm, String hostId, String vmId) {
    try {
      return farm.host(hostId).hypervisor.status(vmId).isPresent();
    } catch (HypervisorException e) {
      throw new AssertionError("cannot read host " + hostId + "'s domains", e);
    }
  }

  private static List<Event> orphanEvents(InProcessFarm farm, String vmId) {
    return farm.client().listEvents(EventFilter.any().forVm(vmId)).stream()
        .filter(e -> e.getKind().equals("ORPHAN")).toList();
  }
}
