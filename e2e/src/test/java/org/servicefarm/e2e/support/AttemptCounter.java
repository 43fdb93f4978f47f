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
  private final AtomicInteger unavailable = new AtomicInteger();
  private final List<String> otherFailures = new CopyOnWriteArrayList<>();

  public int unavailable() {
    return unavailable.get();
  }

  /** Attempts that failed with any code but UNAVAILABLE, as "METHOD: CODE description". */
  public List<String> otherFailures() {
    return List.copyOf(otherFailures);
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
            if (status.getCode() == Status.Code.UNAVAILABLE) {
              unavailable.incrementAndGet();
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
