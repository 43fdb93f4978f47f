package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Project;
import org.servicefarm.api.v1.ProjectQuota;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * A project's reservation keeps room for it: another project's request that would take the
 * unused part is refused naming the reservation, the project's own fits, and room made for
 * another project never archives the project's VMs counted in its reservation. Real PostgreSQL,
 * the controller on in-process gRPC, an agent on libvirt's test driver.
 */
class ProjectReservationIntegrationTest {
  private static InProcessFarm farm;
  private static FarmClient admin;
  private static FarmClient teamA;
  private static FarmClient teamB;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    admin = farm.client();
    farm.addHost("shared-1", 8, 1024);
    farm.awaitConnected(List.of("shared-1"));
    for (String project : List.of("team-a", "team-b")) {
      admin.projects().create(project, ProjectQuota.getDefaultInstance());
    }
    teamA = farm.clientWithToken(admin.tokens().create("a-app", "client", "team-a").getSecret());
    teamB = farm.clientWithToken(admin.tokens().create("b-app", "client", "team-b").getSecret());
    define("a-db", 512, "team-a");
    define("b-big", 768, "team-b");
    define("b-small", 512, "team-b");
    define("b-more", 512, "team-b");
  }

  private static void define(String name, long memoryMb, String project) {
    admin.defineService(ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
        .setPort(80).setVcpus(1).setMemoryMb(memoryMb).setProject(project).build());
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  @Test
  void aReservationKeepsRoomForItsProjectOnly() {
    Project reserved = admin.projects().reserve("team-a", 1, 512);
    assertEquals(512, reserved.getReservation().getMemoryMb());

    // 1024 MB free, 512 of them kept for team-a: 768 MB for team-b does not fit.
    FarmException refused = assertThrows(FarmException.class,
        () -> teamB.requestService("b-big"));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.code(), refused.getMessage());
    assertTrue(refused.getMessage().contains("project 'team-a' reserves"), refused.getMessage());

    ServiceAccess small = teamB.requestService("b-small"); // outside the reservation
    ServiceAccess own = teamA.requestService("a-db"); // inside it
    assertEquals(VmState.VM_STATE_ACTIVE, admin.getVm(own.vmId()).getState());

    // The farm is full; team-a's VM is idle but counted in its reservation, and team-b's in use:
    // no room can be made for team-b.
    teamA.releaseLease(own.lease().id());
    FarmException noRoom = assertThrows(FarmException.class,
        () -> teamB.requestService("b-more"));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, noRoom.code(), noRoom.getMessage());
    assertTrue(noRoom.getMessage().contains("archiving VMs would not make room"),
        noRoom.getMessage());
    assertEquals(VmState.VM_STATE_ACTIVE, admin.getVm(own.vmId()).getState(),
        "the reserved project's idle VM stays");
    assertEquals(VmState.VM_STATE_ACTIVE, admin.getVm(small.vmId()).getState());
  }
}
