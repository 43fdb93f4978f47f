package org.servicefarm.client;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Test-only: the fake broker and admin served in-process, plus channels to them. Records the
 * authorization header of every call so tests can see what credentials arrived.
 */
public final class FakeFarmServer implements AutoCloseable {

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  public final FakeServiceBroker broker = new FakeServiceBroker();
  public final FakeFarmAdmin admin = new FakeFarmAdmin();
  private final List<String> authorizations = new CopyOnWriteArrayList<>();
  private final List<ManagedChannel> channels = new CopyOnWriteArrayList<>();
  private final String name = InProcessServerBuilder.generateName();
  private final Server server;

  public FakeFarmServer() throws IOException {
    ServerInterceptor recordAuthorization = new ServerInterceptor() {
      @Override
      public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call,
          Metadata headers, ServerCallHandler<ReqT, RespT> next) {
        String authorization = headers.get(AUTHORIZATION);
        authorizations.add(authorization == null ? "<none>" : authorization);
        return next.startCall(call, headers);
      }
    };
    server = InProcessServerBuilder.forName(name)
        .directExecutor()
        .addService(ServerInterceptors.intercept(broker, recordAuthorization))
        .addService(ServerInterceptors.intercept(admin, recordAuthorization))
        .build()
        .start();
  }

  /** A new channel to the server, closed with it. */
  public ManagedChannel channel() {
    ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    channels.add(channel);
    return channel;
  }

  /** A client on a new channel to the server. */
  public FarmClient client(FarmClientOptions options) {
    return new FarmClient(channel(), options);
  }

  /** The authorization header of each call, in order; "&lt;none&gt;" when a call had none. */
  public List<String> authorizations() {
    return List.copyOf(authorizations);
  }

  @Override
  public void close() {
    channels.forEach(ManagedChannel::shutdownNow);
    server.shutdownNow();
    try {
      if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
        throw new IllegalStateException("fake farm server did not stop within 5 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while stopping the fake farm server", e);
    }
  }
}
