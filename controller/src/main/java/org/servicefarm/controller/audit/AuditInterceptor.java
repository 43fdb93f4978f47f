package org.servicefarm.controller.audit;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Optional;
import org.servicefarm.controller.model.AuditRecord;

/**
 * Puts a {@link CallAudit} into every call's Context and, when the call ends, writes what it
 * learnt to the {@link AuditTrail}: a refusal by access control (any method), or a call of an
 * {@link AuditedMethods audited method} that this controller served, with its outcome. It runs
 * before authorization, so it sees refusals, and its record is written before the answer leaves.
 *
 * <p>A follower that forwards a call to the leader records nothing; the leader records it, with
 * the follower as its peer and the forwarding controller in the detail.
 */
public final class AuditInterceptor implements ServerInterceptor {
  private static final Metadata.Key<String> FORWARDED_BY =
      Metadata.Key.of("servicefarm-forwarded-by", Metadata.ASCII_STRING_MARSHALLER);

  private final AuditTrail trail;

  public AuditInterceptor(AuditTrail trail) {
    this.trail = trail;
  }

  /**
   * Marks calls that reach this controller's services (placed inside leader routing), so a
   * forwarded call is recorded once, by the leader.
   */
  public static ServerInterceptor servedHereMarker() {
    return new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
          ServerCallHandler<Q, R> next) {
        CallAudit.current().ifPresent(CallAudit::servedHere);
        return next.startCall(call, headers);
      }
    };
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    String peer = peer(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
    String forwardedBy = headers.get(FORWARDED_BY);
    CallAudit audit = new CallAudit();
    ServerCall<Q, R> recorded = new SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        try {
          finished(audit, method, peer, forwardedBy, status);
        } finally {
          super.close(status, trailers);
        }
      }
    };
    Context context = Context.current().withValue(CallAudit.KEY, audit);
    ServerCall.Listener<Q> listener = Contexts.interceptCall(context, recorded, headers, next);
    if (!AuditedMethods.audited(method)) {
      return listener;
    }
    return new SimpleForwardingServerCallListener<>(listener) {
      private boolean first = true;

      @Override
      public void onMessage(Q message) {
        if (first) {
          first = false;
          audit.target(AuditedMethods.target(method, message));
        }
        super.onMessage(message);
      }
    };
  }

  private void finished(CallAudit audit, String method, String peer, String forwardedBy,
      Status status) {
    if (audit.refused()) {
      trail.refused(record(audit, method, peer, forwardedBy, status, Optional.empty()));
      return;
    }
    if (!audit.wasServedHere() || !AuditedMethods.audited(method)) {
      return;
    }
    Optional<String> change = audit.change();
    if (method.equals(AuditedMethods.REQUEST_SERVICE) && change.isEmpty()) {
      return;  // served by a running VM: nothing changed but a lease
    }
    trail.changed(record(audit, method, peer, forwardedBy, status, change));
  }

  private static AuditRecord record(CallAudit audit, String method, String peer,
      String forwardedBy, Status status, Optional<String> change) {
    CallAudit.Caller caller = audit.caller();
    StringBuilder detail = new StringBuilder();
    change.ifPresent(detail::append);
    if (status.getDescription() != null && !status.isOk()) {
      detail.append(detail.length() > 0 ? "; " : "").append(status.getDescription());
    }
    if (forwardedBy != null) {
      detail.append(detail.length() > 0 ? "; " : "").append("forwarded by controller ")
          .append(forwardedBy);
    }
    return AuditRecord.unsaved(null, caller.kind(), caller.tokenId(),
        AuditText.bounded(caller.name(), AuditText.NAME_LIMIT),
        AuditText.bounded(peer, AuditText.NAME_LIMIT), AuditText.bounded(method, AuditText.NAME_LIMIT),
        audit.target(), status.getCode().name(), AuditText.bounded(detail.toString(),
            AuditText.DETAIL_LIMIT), 1);
  }

  private static String peer(SocketAddress address) {
    if (address instanceof InetSocketAddress inet && inet.getAddress() != null) {
      return inet.getAddress().getHostAddress() + ":" + inet.getPort();
    }
    return String.valueOf(address);
  }
}
