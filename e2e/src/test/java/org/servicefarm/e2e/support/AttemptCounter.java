package org.servicefarm.e2e.support;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts how each call attempt on a channel ended, below the SDK's retries: the SDK answers a
 * request once, however many attempts it took.
 */
public final class AttemptCounter implements ClientInterceptor {
  private final AtomicInteger cut = new AtomicInteger();
  private final List<String> otherFailures = new CopyOnWriteArrayList<>();

  /** Attempts cut by the transport (UNAVAILABLE or a reset stream), which the SDK retries. */
  public int transportCuts() {
    return cut.get();
  }

  /**
   * Attempts that the farm answered with a failure, as "METHOD: CODE description": every failure
   * but UNAVAILABLE and a reset stream, which a controller stopping or failing over causes.
   */
  public List<String> otherFailures() {
    return List.copyOf(otherFailures);
  }

  /**
   * UNAVAILABLE, or an HTTP/2 RST_STREAM (grpc-java reports it as INTERNAL): a server stopping
   * cut the call before answering it, as the SDK's retries treat it too.
   */
  private static boolean cutByTransport(Status status) {
    String description = status.getDescription();
    return status.getCode() == Status.Code.UNAVAILABLE
        || status.getCode() == Status.Code.INTERNAL && description != null
            && description.startsWith("RST_STREAM closed stream");
  }

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method,
      CallOptions options, Channel next) {
    return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
      @Override
      public void start(Listener<R> listener, Metadata headers) {
        super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(
            listener) {
          @Override
          public void onClose(Status status, Metadata trailers) {
            if (cutByTransport(status)) {
              cut.incrementAndGet();
            } else if (!status.isOk()) {
              otherFailures.add(method.getBareMethodName() + ": " + status.getCode() + " "
                  + status.getDescription());
            }
            super.onClose(status, trailers);
          }
        }, headers);
      }
    };
  }
}
