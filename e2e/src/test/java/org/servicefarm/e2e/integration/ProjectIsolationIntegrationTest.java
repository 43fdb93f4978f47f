package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.servicefarm.api.v1.Event;
import org.servicefarm.api.v1.ListServicesResponse;
import org.servicefarm.api.v1.OfferedService;
import org.servicefarm.api.v1.ProjectQuota;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.client.EventFilter;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.client.Subscription;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * Two projects on one farm: each sees, requests and watches only its own services and VMs (and
 * the shared definitions, of which each gets VMs of its own); anything of the other project is
 * answered NOT_FOUND in the words used for something that does not exist.
 */
class ProjectIsolationIntegrationTest {
  private static InProcessFarm farm;
  private static FarmClient admin;
  private static FarmClient alice;
  private static FarmClient bob;
  private static FarmClient teamAdminA;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    admin = farm.client();
    farm.addHost("sim-1", 16, 16384);
    farm.awaitConnected(List.of("sim-1"));
    admin.projects().create("team-a", ProjectQuota.getDefaultInstance());
    admin.projects().create("team-b", ProjectQuota.getDefaultInstance());
    alice = farm.clientWithToken(admin.tokens().create("alice", "client", "team-a").getSecret());
    bob = farm.clientWithToken(admin.tokens().create("bob", "client", "team-b").getSecret());
    teamAdminA = farm.clientWithToken(
        admin.tokens().create("a-admin", "admin", "team-a").getSecret());
    define("a-web", "team-a", false);
    define("b-web", "team-b", false);
    define("shared-cache", "", true);
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  private static void define(String name, String project, boolean shared) {
    admin.defineService(ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
        .setPort(80).setVcpus(1).setMemoryMb(256).setProject(project).setShared(shared).build());
  }

  private static void assertNotFound(Executable call) {
    FarmException e = assertThrows(FarmException.class, call);
    assertEquals(Status.Code.NOT_FOUND, e.code(), e.getMessage());
  }

  @Test
  void eachProjectListsItsOwnAndTheSharedDefinitionsOnly() {
    ListServicesResponse alices = alice.listServices();
    List<String> seen = new java.util.ArrayList<>(alices.getConstructibleList());
    alices.getOfferedList().forEach(o -> seen.add(o.getName()));
    assertTrue(seen.contains("a-web") && seen.contains("shared-cache"), seen.toString());
    assertFalse(seen.contains("b-web"), "team-b's service is not listed to team-a: " + seen);
    List<String> gateways = alices.getGatewaysList().stream()
        .map(org.servicefarm.api.v1.ServiceGateway::getService).toList();
    assertTrue(gateways.contains("a-web"), "team-a's own gateway addresses: " + gateways);
    assertFalse(gateways.contains("b-web"), "team-b's gateway address is not listed: " + gateways);
    List<String> teamADefinitions = teamAdminA.listServiceDefinitions().stream()
        .map(ServiceDefinition::getName).toList();
    assertTrue(teamADefinitions.contains("a-web") && teamADefinitions.contains("shared-cache"));
    assertFalse(teamADefinitions.contains("b-web"));
    assertTrue(admin.listServiceDefinitions().stream().anyMatch(d -> d.getName().equals("b-web")
        && d.getProject().equals("team-b")), "a farm-wide admin sees every project's");
  }

  @Test
  void aProjectBoundTokenCannotWatchTheFarmWideRoutingTable() {
    io.grpc.Metadata auth = new io.grpc.Metadata();
    auth.put(io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER),
        "Bearer " + admin.tokens().create("a-gateway", "gateway", "team-a").getSecret());
    var routes = org.servicefarm.api.v1.GatewayRoutesGrpc.newBlockingStub(
        io.grpc.ClientInterceptors.intercept(farm.channel(),
            io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(auth)))
        .withDeadlineAfter(10, java.util.concurrent.TimeUnit.SECONDS)
        .watchRoutes(org.servicefarm.api.v1.WatchRoutesRequest.getDefaultInstance());
    io.grpc.StatusRuntimeException refused =
        assertThrows(io.grpc.StatusRuntimeException.class, routes::hasNext);
    assertEquals(Status.Code.PERMISSION_DENIED, refused.getStatus().getCode());
    assertTrue(refused.getStatus().getDescription().contains("team-a"),
        refused.getStatus().getDescription());
  }

  @Test
  void anotherProjectsServiceIsNotFoundInTheWordsOfAnUnknownOne() {
    FarmException other = assertThrows(FarmException.class, () -> alice.requestService("b-web"));
    FarmException unknown = assertThrows(FarmException.class,
        () -> alice.requestService("no-such-web"));
    assertEquals(Status.Code.NOT_FOUND, other.code());
    assertEquals(unknown.getMessage().replace("no-such-web", "b-web"), other.getMessage(),
        "a name of another project answers as a name that does not exist");
  }

  @Test
  void vmsLeasesAndOperationsOfAnotherProjectAreNotFound() {
    ServiceAccess alices = alice.requestService("a-web");
    assertEquals("team-a", alice.getVm(alices.vmId()).getProject());
    assertNotFound(() -> bob.getVm(alices.vmId()));
    assertNotFound(() -> bob.renewLease(alices.lease().id()));
    assertNotFound(() -> bob.releaseLease(alices.lease().id()));
    alice.renewLease(alices.lease().id());
    RequestServiceResponse started = alice.requestServiceNoWait("a-web", "a-deploy-1");
    assertNotFound(() -> bob.watchOperation(started.getOperationId(), u -> { }));
    assertTrue(alice.watchOperation(started.getOperationId(), u -> { }).getDone());
    // A project's admin acts on its own project's VMs only, and not on the farm's hosts.
    assertNotFound(() -> teamAdminA.suspendVm(bob.requestService("b-web").vmId(), true));
    FarmException drain = assertThrows(FarmException.class, () -> teamAdminA.drainHost("sim-1"));
    assertEquals(Status.Code.PERMISSION_DENIED, drain.code());
    assertTrue(teamAdminA.listVms().stream().allMatch(v -> v.getProject().equals("team-a")));
    assertTrue(admin.listVms().stream().anyMatch(v -> v.getProject().equals("team-b")));
  }

  @Test
  void eachProjectGetsItsOwnVmsOfASharedDefinition() {
    ServiceAccess alices = alice.requestService("shared-cache");
    ServiceAccess bobs = bob.requestService("shared-cache");
    assertNotEquals(alices.vmId(), bobs.vmId(), "a shared definition's VMs are per project");
    assertEquals("team-a", alice.getVm(alices.vmId()).getProject());
    assertEquals("team-b", bob.getVm(bobs.vmId()).getProject());
    OfferedService offered = alice.listServices().getOfferedList().stream()
        .filter(o -> o.getName().equals("shared-cache")).findFirst().orElseThrow();
    assertEquals(List.of(alices.vmId()), offered.getVmIdsList());
  }

  @Test
  void aProjectsWatchAndListOfEventsCarryItsOwnEventsOnly() throws Exception {
    List<Event> watched = new CopyOnWriteArrayList<>();
    Subscription watch = teamAdminA.watchEvents(EventFilter.any(), watched::add);
    try {
      String bobsVm = bob.requestService("b-web", "b-watch").vmId();
      String alicesVm = alice.requestService("a-web", "a-watch").vmId();
      Await.until("team-a's VM's events reach its admin's watch", Duration.ofSeconds(30),
          () -> watched.stream().anyMatch(e -> e.getVmId().equals(alicesVm)));
      assertTrue(watched.stream().allMatch(e -> e.getProject().equals("team-a")), watched.toString());
      assertTrue(watched.stream().noneMatch(e -> e.getVmId().equals(bobsVm)));
    } finally {
      watch.close();
    }
    List<Event> listed = teamAdminA.listEvents(EventFilter.any().limit(1000));
    assertFalse(listed.isEmpty());
    assertTrue(listed.stream().allMatch(e -> e.getProject().equals("team-a")));
  }

  @Test
  void aTokenNamingAnotherProjectInTheHeaderIsNotFound() {
    String secret = admin.tokens().create("alice-forger", "client", "team-a").getSecret();
    try (FarmClient forger = farm.clientInProject(secret, "team-b")) {
      assertNotFound(forger::listServices);
    }
    try (FarmClient forger = farm.clientInProject(secret, "no-such-team")) {
      assertNotFound(forger::listServices);
    }
    // A farm-wide admin narrows its view to one project with the header.
    try (FarmClient narrowed = farm.clientInProject(farm.client().options().bearerToken()
        .orElseThrow(), "team-b")) {
      List<Vm> vms = narrowed.listVms();
      assertTrue(vms.stream().allMatch(v -> v.getProject().equals("team-b")), vms.toString());
    }
  }

  @Test
  void aProjectsTokensAreItsOwnAndItCannotMintAnotherProjects() {
    assertNotFound(() -> teamAdminA.tokens().create("sneaky", "client", "team-b"));
    assertEquals("team-a", teamAdminA.tokens().create("a-ci", "client").getToken().getProject());
    assertTrue(teamAdminA.tokens().list().stream().allMatch(t -> t.getProject().equals("team-a")));
    assertNotFound(() -> teamAdminA.tokens().revoke("bob"));
  }

  @Test
  void aProjectIsDeletedOnlyWhenEmpty() {
    admin.projects().create("short-lived", ProjectQuota.getDefaultInstance());
    assertTrue(admin.projects().list().stream().anyMatch(p -> p.getName().equals("short-lived")));
    FarmException busy = assertThrows(FarmException.class, () -> admin.projects().delete("team-a"));
    assertEquals(Status.Code.FAILED_PRECONDITION, busy.code());
    admin.projects().delete("short-lived");
    assertTrue(admin.projects().list().stream().noneMatch(p -> p.getName().equals("short-lived")));
    assertEquals(List.of("team-a"), teamAdminA.projects().list().stream()
        .map(org.servicefarm.api.v1.Project::getName).toList());
  }
}
