package org.servicefarm.controller.auth;

import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Optional;
import org.servicefarm.controller.audit.CallAudit;

/**
 * Rate limits by peer address when there are no tokens to tell callers apart
 * ({@code --auth none}). The port is left out: one client opens many connections.
 */
public final class PeerRateLimitInterceptor implements ServerInterceptor {
  private final RequestRateLimiter limiter;

  public PeerRateLimitInterceptor(RequestRateLimiter limiter) {
    this.limiter = limiter;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    boolean open = MethodRoles.of(method).map(MethodRoles.Access::open).orElse(false);
    String peer = peer(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
    Optional<Status> refusal = open ? Optional.empty()
        : limiter.refusal("peer:" + peer, "the caller at " + peer);
    CallAudit.identified(CallAudit.Caller.anonymous("no authentication (--auth none)"));
    if (refusal.isEmpty()) {
      return next.startCall(call, headers);
    }
    CallAudit.refusedByAccessControl();
    call.close(refusal.get(), RequestRateLimiter.trailersFor(refusal.get()));
    return new ServerCall.Listener<>() {};
  }

  private static String peer(SocketAddress address) {
    if (address instanceof InetSocketAddress inet && inet.getAddress() != null) {
      return inet.getAddress().getHostAddress();
    }
    return String.valueOf(address);
  }
}
