package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.UnknownFieldSet;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.AgentControlGrpc;
import org.servicefarm.api.v1.AgentMessage;
import org.servicefarm.api.v1.ControllerMessage;
import org.servicefarm.api.v1.HostCapacity;
import org.servicefarm.api.v1.Register;
import org.servicefarm.client.FarmClient;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * Agents of another version meet the controller's protocol check: an agent from before the
 * protocol version (the previous release's) is served, one of a protocol this controller does not
 * speak is refused naming both versions, and a message of a kind only a newer agent sends is
 * refused naming the field, not crashed on.
 */
class AgentProtocolVersionIntegrationTest {
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

  /** Sends the messages on one agent stream; completes with how the stream ended. */
  private static CompletableFuture<Status> stream(CompletableFuture<Void> registered,
      AgentMessage... messages) {
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
    for (AgentMessage message : messages) {
      out.onNext(message);
    }
    return ended;
  }

  private static AgentMessage register(String hostId, int protocolVersion) {
    return AgentMessage.newBuilder().setRegister(Register.newBuilder().setHostId(hostId)
        .setAddress("127.0.0.1").setHypervisor("test").setAgentVersion("it")
        .setProtocolVersion(protocolVersion)
        .setCapacity(HostCapacity.newBuilder().setVcpus(2).setMemoryMb(2048).setDiskMb(1000)))
        .build();
  }

  @Test
  void anAgentFromBeforeTheProtocolVersionIsServed() throws Exception {
    CompletableFuture<Void> registered = new CompletableFuture<>();
    stream(registered, register("proto-old-1", 0));
    registered.get(30, TimeUnit.SECONDS);
    Await.until("proto-old-1 connected", java.time.Duration.ofSeconds(10),
        () -> admin.listHosts().stream()
            .anyMatch(h -> h.getId().equals("proto-old-1") && h.getConnected()));
  }

  @Test
  void anAgentOfANewerProtocolIsRefusedNamingBothVersions() throws Exception {
    Status status = stream(new CompletableFuture<>(), register("proto-new-1", 99))
        .get(30, TimeUnit.SECONDS);
    assertEquals(Status.Code.FAILED_PRECONDITION, status.getCode());
    assertTrue(status.getDescription().contains("agent of host proto-new-1 (version it) speaks"
        + " agent protocol 99, but this controller speaks 1 to 2: upgrade the controllers"
        + " before the agents"), status.getDescription());
    assertTrue(admin.listHosts().stream().noneMatch(h -> h.getId().equals("proto-new-1")),
        "a refused agent is no host");
  }

  @Test
  void aMessageOfAKindOnlyANewerAgentSendsIsRefusedNamingTheField() throws Exception {
    CompletableFuture<Void> registered = new CompletableFuture<>();
    AgentMessage future = AgentMessage.newBuilder().setUnknownFields(UnknownFieldSet.newBuilder()
        .addField(77, UnknownFieldSet.Field.newBuilder().addVarint(1).build()).build()).build();
    Status status = stream(registered, register("proto-future-1", 2), future)
        .get(30, TimeUnit.SECONDS);
    assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
    assertTrue(status.getDescription().contains("agent message of no kind this controller"
        + " knows (field [77])"), status.getDescription());
  }
}
