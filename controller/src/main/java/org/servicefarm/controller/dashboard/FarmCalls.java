package org.servicefarm.controller.dashboard;

import io.grpc.Attributes;
import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.servicefarm.api.v1.FarmAdminGrpc;

/**
 * The dashboard's way into the farm: the gRPC services farmctl calls, served a second time on an
 * in-process server of this controller's own, with the same interceptors (authorization, audit,
 * forwarding to the leader, the one failure-to-Status mapping). A browser's action is therefore
 * the call farmctl would make, with the signed-in token as its bearer token; a refusal carries
 * the farm's own words, and the audit trail names the token and the browser's address.
 *
 * <p>The browser's address travels in {@link #BROWSER_PEER}; only this in-process server, which
 * nothing outside the process can reach, turns it into the call's peer address.
 */
public final class FarmCalls implements AutoCloseable {
  static final Metadata.Key<String> BROWSER_PEER =
      Metadata.Key.of("servicefarm-dashboard-peer", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  /** VM actions wait for the VM to settle (the controller's action wait); drains do not. */
  static final long DEADLINE_SECONDS = 120;

  private final String name = "servicefarm-dashboard-" + UUID.randomUUID();
  private volatile Server server;
  private volatile ManagedChannel channel;

  /**
   * Serves {@code services} (already wrapped in the controller's per-service interceptors) in
   * process, with {@code outer} around them as the network server has, and opens the channel.
   */
  public void serve(List<ServerServiceDefinition> services, Executor executor,
      ServerInterceptor... outer) throws IOException {
    InProcessServerBuilder builder = InProcessServerBuilder.forName(name).executor(executor);
    for (ServerInterceptor interceptor : outer) {
      builder.intercept(interceptor);
    }
    builder.intercept(new BrowserPeer()); // added last: runs first, before the audit sees the peer
    services.forEach(builder::addService);
    server = builder.build().start();
    channel = InProcessChannelBuilder.forName(name).build();
  }

  /** FarmAdmin as the caller with {@code token} (none with --auth none), from {@code peer}. */
  FarmAdminGrpc.FarmAdminBlockingStub admin(Optional<String> token, String peer) {
    ManagedChannel open = channel;
    if (open == null) {
      throw new IllegalStateException("the controller's gRPC services are not serving yet");
    }
    Metadata headers = new Metadata();
    token.ifPresent(t -> headers.put(AUTHORIZATION, "Bearer " + t));
    headers.put(BROWSER_PEER, peer);
    return FarmAdminGrpc.newBlockingStub(open)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
        .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    if (channel != null) {
      channel.shutdownNow();
    }
    if (server != null) {
      server.shutdownNow();
    }
  }

  /** Makes the browser's address the call's peer, as a network call's would be. */
  private static final class BrowserPeer implements ServerInterceptor {
    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
        ServerCallHandler<Q, R> next) {
      Optional<InetSocketAddress> browser = address(headers.get(BROWSER_PEER));
      if (browser.isEmpty()) {
        return next.startCall(call, headers);
      }
      Attributes attributes = call.getAttributes().toBuilder()
          .set(Grpc.TRANSPORT_ATTR_REMOTE_ADDR, browser.get()).build();
      return next.startCall(new SimpleForwardingServerCall<>(call) {
        @Override
        public Attributes getAttributes() {
          return attributes;
        }
      }, headers);
    }

    // "address:port" as WebExchange.remoteAddress writes it; a literal address needs no lookup.
    private static Optional<InetSocketAddress> address(String peer) {
      if (peer == null) {
        return Optional.empty();
      }
      int colon = peer.lastIndexOf(':');
      try {
        return Optional.of(new InetSocketAddress(InetAddress.getByName(peer.substring(0, colon)),
            Integer.parseInt(peer.substring(colon + 1))));
      } catch (UnknownHostException | RuntimeException notAnAddress) {
        return Optional.empty();
      }
    }
  }
}
