package org.servicefarm.controller.ha;

import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.nio.channels.ClosedChannelException;

/**
 * One call a follower relays to the leader, in both directions and with flow control: a message
 * is asked of one side only when the other side is ready to take it (the shape of grpc-java's
 * proxy example). Unary, server-streaming and client-streaming calls all pass through.
 */
final class ForwardedCall<Q, R> {
  private final ServerCall<Q, R> inbound;
  private final ClientCall<Q, R> outbound;
  private boolean requestWanted; // guarded by this: a request message waits for the leader's side
  private boolean responseWanted; // guarded by this: a response waits for the client's side

  ForwardedCall(ServerCall<Q, R> inbound, ClientCall<Q, R> outbound) {
    this.inbound = inbound;
    this.outbound = outbound;
  }

  /**
   * The leader's status as the caller gets it. When the connection to the leader closes under a
   * call (the leader died), grpc-java may end it UNKNOWN "channel closed" rather than UNAVAILABLE;
   * relayed as it is, the caller would not retry. It is UNAVAILABLE: the call may be sent again,
   * and a request with an idempotency key then finds its first attempt's work.
   */
  static Status relayed(Status status) {
    boolean connectionLost = status.getCode() == Status.Code.UNKNOWN
        && (status.getCause() instanceof ClosedChannelException
            || "channel closed".equals(status.getDescription()));
    return connectionLost
        ? Status.UNAVAILABLE.withDescription("the connection to the leading controller closed"
            + " during the call; try again").withCause(status.getCause())
        : status;
  }

  ServerCall.Listener<Q> start(Metadata headers) {
    outbound.start(new FromLeader(), headers);
    inbound.request(1);
    outbound.request(1);
    return new FromClient();
  }

  private final class FromClient extends ServerCall.Listener<Q> {
    @Override
    public void onMessage(Q message) {
      outbound.sendMessage(message);
      synchronized (ForwardedCall.this) {
        if (outbound.isReady()) {
          inbound.request(1);
        } else {
          requestWanted = true;
        }
      }
    }

    @Override
    public void onHalfClose() {
      outbound.halfClose();
    }

    @Override
    public void onCancel() {
      outbound.cancel("the client cancelled the call", null);
    }

    @Override
    public void onReady() {
      synchronized (ForwardedCall.this) {
        if (responseWanted) {
          responseWanted = false;
          outbound.request(1);
        }
      }
    }
  }

  private final class FromLeader extends ClientCall.Listener<R> {
    @Override
    public void onHeaders(Metadata headers) {
      inbound.sendHeaders(headers);
    }

    @Override
    public void onMessage(R message) {
      inbound.sendMessage(message);
      synchronized (ForwardedCall.this) {
        if (inbound.isReady()) {
          outbound.request(1);
        } else {
          responseWanted = true;
        }
      }
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      inbound.close(relayed(status), trailers);
    }

    @Override
    public void onReady() {
      synchronized (ForwardedCall.this) {
        if (requestWanted) {
          requestWanted = false;
          inbound.request(1);
        }
      }
    }
  }
}
