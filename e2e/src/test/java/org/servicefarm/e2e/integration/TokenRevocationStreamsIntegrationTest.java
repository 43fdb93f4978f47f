package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.AgentControlGrpc;
import org.servicefarm.api.v1.AgentMessage;
import org.servicefarm.api.v1.FarmAdminGrpc;
import org.servicefarm.api.v1.HostCapacity;
import org.servicefarm.api.v1.HostLoad;
import org.servicefarm.api.v1.LoadReport;
import org.servicefarm.api.v1.Register;
import org.servicefarm.api.v1.ServiceBrokerGrpc;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.WatchEventsRequest;
import org.servicefarm.api.v1.WatchOperationRequest;
import org.servicefarm.client.FarmClient;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * A token is checked when a stream opens, and again while it lasts: revoking the token ends its
 * WatchEvents and WatchOperation streams with UNAUTHENTICATED within the revocation delay
 * (5 s, plus the one-second sweep), where before they ran on for as long as the caller liked.
 */
class TokenRevocationStreamsIntegrationTest {
  private static final long REVOCATION_DELAY_SECONDS = 7;
  private static InProcessFarm farm;
  private static FarmClient admin;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    admin = farm.client();
    farm.addHost("rev-1", 4, 4096);
    farm.awaitConnected(List.of("rev-1"));
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  private static Metadata bearer(String token) {
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
        "Bearer " + token);
    return headers;
  }

  /** Completes with the status the stream ended with. */
  private static <T> StreamObserver<T> ending(CompletableFuture<Status> ended) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {}

      @Override
      public void onError(Throwable t) {
        ended.complete(Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        ended.complete(Status.OK);
      }
    };
  }

  @Test
  void revokingATokenEndsItsOpenWatchEventsStream() throws Exception {
    String token = admin.tokens().create("watcher", "admin").getSecret();
    CompletableFuture<Status> ended = new CompletableFuture<>();
    FarmAdminGrpc.newStub(farm.channel())
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)))
        .watchEvents(WatchEventsRequest.getDefaultInstance(), ending(ended));
    Thread.sleep(1500);
    assertTrue(!ended.isDone(), "the stream is open before the revocation: " + ended);

    admin.tokens().revoke("watcher");
    Status status = ended.get(REVOCATION_DELAY_SECONDS, TimeUnit.SECONDS);
    assertEquals(Status.Code.UNAUTHENTICATED, status.getCode());
    assertTrue(status.getDescription().contains("'watcher' was revoked"), status.getDescription());
  }

  @Test
  void revokingATokenEndsItsOpenWatchOperationStream() throws Exception {
    String token = admin.tokens().create("follower", "client").getSecret();
    FarmClient client = farm.clientWithToken(token);
    admin.defineService(ServiceDefinition.newBuilder().setName("rev-web").addPackages("busybox")
        .setPort(80).setVcpus(1).setMemoryMb(256).build());
    // The only host is one whose agent registers and reports but never answers a command, so
    // the request's operation stays under way.
    farm.stopAgent("rev-1");
    StreamObserver<AgentMessage> mute = AgentControlGrpc.newStub(farm.channel())
        .connect(ending(new CompletableFuture<>()));
    HostLoad load = HostLoad.newBuilder().setMemoryTotalMb(4096).build();
    mute.onNext(AgentMessage.newBuilder().setRegister(Register.newBuilder().setHostId("mute-1")
        .setAddress("127.0.0.1").setHypervisor("test").setAgentVersion("it").setLoad(load)
        .setCapacity(HostCapacity.newBuilder().setVcpus(4).setMemoryMb(4096).setDiskMb(10_000)))
        .build());
    ScheduledExecutorService reports = Executors.newSingleThreadScheduledExecutor();
    reports.scheduleAtFixedRate(() -> mute.onNext(AgentMessage.newBuilder()
        .setLoad(LoadReport.newBuilder().setLoad(load)).build()), 500, 500, TimeUnit.MILLISECONDS);
    String[] operation = new String[1];
    Await.until("a host to take rev-web", java.time.Duration.ofSeconds(20), () -> {
      try {
        operation[0] = client.requestServiceNoWait("rev-web", "rev-1").getOperationId();
        return true;
      } catch (org.servicefarm.client.FarmUnavailableException e) {
        return false;
      }
    });
    CompletableFuture<Status> ended = new CompletableFuture<>();
    ServiceBrokerGrpc.newStub(farm.channel())
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)))
        .watchOperation(WatchOperationRequest.newBuilder().setOperationId(operation[0]).build(),
            ending(ended));
    Thread.sleep(1000);
    assertTrue(!ended.isDone(), "the watch is open before the revocation: " + ended);

    admin.tokens().revoke("follower");
    Status status = ended.get(REVOCATION_DELAY_SECONDS, TimeUnit.SECONDS);
    assertEquals(Status.Code.UNAUTHENTICATED, status.getCode());
    assertTrue(status.getDescription().contains("'follower' was revoked"),
        status.getDescription());
    reports.shutdownNow();
    mute.onCompleted();
  }
}
