package org.servicefarm.controller.ha;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.Optional;
import java.util.function.Function;

/**
 * Where a call is served when controllers share a database: the leader serves every call itself;
 * a follower forwards clients' calls to the leader (so any controller answers clients, and the
 * leader's in-memory view of agents and VMs decides), and refuses agents' streams, so that each
 * agent dials on until it reaches the leader.
 */
public final class LeaderRouting implements ServerInterceptor {
  /** Marks a forwarded call; a controller that gets one and does not lead refuses, never loops. */
  static final Metadata.Key<String> FORWARDED_BY =
      Metadata.Key.of("servicefarm-forwarded-by", Metadata.ASCII_STRING_MARSHALLER);

  private final Leadership leadership;
  private final Function<String, Channel> peers; // null: refuse instead of forwarding

  private LeaderRouting(Leadership leadership, Function<String, Channel> peers) {
    this.leadership = leadership;
    this.peers = peers;
  }

  /** For clients' services: forwarded to the leader over a channel from {@code peers}. */
  public static LeaderRouting forwarding(Leadership leadership, Function<String, Channel> peers) {
    return new LeaderRouting(leadership, peers);
  }

  /** For agents' streams: refused with UNAVAILABLE naming the leader. */
  public static LeaderRouting leaderOnly(Leadership leadership) {
    return new LeaderRouting(leadership, null);
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    if (leadership.isLeader()) {
      return next.startCall(call, headers);
    }
    Optional<Leadership.Leader> leader = leadership.leader()
        .filter(l -> l.epoch() > 0 && !l.address().isEmpty() && !l.holder().equals(leadership.self()));
    String where = leader.map(l -> "the leader is " + l.holder() + " at " + l.address())
        .orElse("no controller leads now");
    if (peers == null || leader.isEmpty() || headers.containsKey(FORWARDED_BY)) {
      call.close(Status.UNAVAILABLE.withDescription("controller " + leadership.self()
          + " does not lead the farm (" + where + "); try again"), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    Channel channel = peers.apply(leader.get().address());
    CallOptions options = CallOptions.DEFAULT;
    Deadline deadline = Context.current().getDeadline();
    if (deadline != null) {
      options = options.withDeadline(deadline);
    }
    ClientCall<Q, R> forward = channel.newCall(call.getMethodDescriptor(), options);
    headers.put(FORWARDED_BY, leadership.self());
    return new ForwardedCall<>(call, forward).start(headers);
  }
}
