package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.AgentControlGrpc;
import org.servicefarm.api.v1.AgentMessage;
import org.servicefarm.api.v1.ControllerMessage;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.Event;
import org.servicefarm.api.v1.HostCapacity;
import org.servicefarm.api.v1.Register;
import org.servicefarm.client.EventFilter;
import org.servicefarm.client.FarmClient;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * What an agent reports is checked like any other input before it is recorded or logged: VM ids
 * must be VM ids, an inventory no longer than a host can run, and a host's orphans are recorded
 * at most twenty a minute. Before, one report with 100,000 made-up ids wrote 100,000 orphan
 * events with the raw strings, newlines included.
 */
class HostileAgentReportsIntegrationTest {
  private static InProcessFarm farm;
  private static FarmClient admin;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    admin = farm.client();
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  /** Registers the host with the inventory; completes with how the stream ended. */
  private static CompletableFuture<Status> register(String hostId, List<DomainStatus> inventory,
      CompletableFuture<Void> registered) {
    CompletableFuture<Status> ended = new CompletableFuture<>();
    StreamObserver<AgentMessage> out = AgentControlGrpc.newStub(farm.channel()).connect(
        new StreamObserver<ControllerMessage>() {
          @Override
          public void onNext(ControllerMessage message) {
            registered.complete(null);
          }

          @Override
          public void onError(Throwable t) {
            ended.complete(Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {
            ended.complete(Status.OK);
          }
        });
    out.onNext(AgentMessage.newBuilder().setRegister(Register.newBuilder().setHostId(hostId)
        .setAddress("127.0.0.1").setHypervisor("test").setAgentVersion("it")
        .setCapacity(HostCapacity.newBuilder().setVcpus(2).setMemoryMb(2048).setDiskMb(1000))
        .addAllInventory(inventory)).build());
    return ended;
  }

  private static DomainStatus domain(String vmId) {
    return DomainStatus.newBuilder().setVmId(vmId).setGeneration(1).build();
  }

  @Test
  void aReportWithAHundredThousandMadeUpIdsIsRefusedAndRecordsNothing() throws Exception {
    List<DomainStatus> madeUp = new java.util.ArrayList<>();
    for (int i = 0; i < 100_000; i++) {
      madeUp.add(domain("x\n" + i));
    }
    Status status = register("flood-1", madeUp, new CompletableFuture<>())
        .get(30, TimeUnit.SECONDS);
    assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
    assertTrue(status.getDescription().contains("100000 domains, more than a host runs"),
        status.getDescription());
    assertTrue(admin.listHosts().stream().noneMatch(h -> h.getId().equals("flood-1")));
    assertEquals(0, admin.listEvents(EventFilter.any().onHost("flood-1")).size());
  }

  @Test
  void aVmIdThatIsNotOneIsRefusedNamingItEscaped() throws Exception {
    Status status = register("liar-1", List.of(domain("vm\nINFO: forged log line")),
        new CompletableFuture<>()).get(30, TimeUnit.SECONDS);
    assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
    assertTrue(status.getDescription().contains("'vm\\x0aINFO: forged log line' is not a VM id"),
        status.getDescription());
    assertTrue(admin.listHosts().stream().noneMatch(h -> h.getId().equals("liar-1")));
  }

  @Test
  void aHostsOrphansAreRecordedAtMostTwentyAMinute() throws Exception {
    List<DomainStatus> orphans = new java.util.ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      orphans.add(domain(UUID.randomUUID().toString()));
    }
    CompletableFuture<Void> registered = new CompletableFuture<>();
    register("orphans-1", orphans, registered);
    registered.get(30, TimeUnit.SECONDS);
    Await.until("the first orphan events", java.time.Duration.ofSeconds(10),
        () -> !admin.listEvents(EventFilter.any().onHost("orphans-1")).isEmpty());
    Thread.sleep(1000);
    List<Event> events = admin.listEvents(EventFilter.any().onHost("orphans-1").limit(1000));
    long recorded = events.stream().filter(e -> e.getKind().equals("ORPHAN")).count();
    assertEquals(20, recorded, "orphan events of one host in a minute: " + events.size());
  }
}
