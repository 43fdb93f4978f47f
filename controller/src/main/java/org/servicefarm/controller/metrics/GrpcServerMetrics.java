package org.servicefarm.controller.metrics;

import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Histogram;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Times every gRPC call from its start to its final status, by method and status code. Installed
 * outermost on the server (see Controller.serve), so refusals by authentication, rate limiting,
 * leader routing and the malformed-request check are counted with the code the caller saw.
 * Streaming calls are counted once, when they close.
 *
 * <p>The warm path pays one allocation-light wrapper, an atomic flag and the histogram's own
 * lock-free observe: the data point of a (method, code) pair is looked up once and kept.
 */
public final class GrpcServerMetrics implements ServerInterceptor {
  private static final Status.Code[] CODES = Status.Code.values();

  private final Histogram latency;
  // labelValues() builds a label list and looks it up on every call; keep what it answers.
  private final ConcurrentMap<String, AtomicReferenceArray<DistributionDataPoint>> points =
      new ConcurrentHashMap<>();

  GrpcServerMetrics(Histogram latency) {
    this.latency = latency;
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call,
      Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    MeasuredCall<ReqT, RespT> measured = new MeasuredCall<>(call, System.nanoTime());
    ServerCall.Listener<ReqT> listener;
    try {
      listener = next.startCall(measured, headers);
    } catch (RuntimeException e) {
      // The server closes such a call itself, past this wrapper: count it as it will answer.
      measured.finish(Status.fromThrowable(e).getCode());
      throw e;
    }
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
      @Override
      public void onCancel() {
        // Reached without close() when the caller went away or its deadline passed.
        Deadline deadline = Context.current().getDeadline();
        measured.finish(deadline != null && deadline.isExpired()
            ? Status.Code.DEADLINE_EXCEEDED : Status.Code.CANCELLED);
        super.onCancel();
      }
    };
  }

  private DistributionDataPoint point(String method, Status.Code code) {
    AtomicReferenceArray<DistributionDataPoint> byCode =
        points.computeIfAbsent(method, m -> new AtomicReferenceArray<>(CODES.length));
    DistributionDataPoint point = byCode.get(code.ordinal());
    if (point == null) {
      // A race here stores the same data point twice: labelValues answers one per label set.
      point = latency.labelValues(method, code.name());
      byCode.set(code.ordinal(), point);
    }
    return point;
  }

  /** The call as the service sees it; its close is where the final status is known. */
  private final class MeasuredCall<ReqT, RespT>
      extends ForwardingServerCall.SimpleForwardingServerCall<ReqT, RespT> {
    private final long startedNanos;
    private final AtomicBoolean finished = new AtomicBoolean();

    MeasuredCall(ServerCall<ReqT, RespT> delegate, long startedNanos) {
      super(delegate);
      this.startedNanos = startedNanos;
    }

    @Override
    public void close(Status status, Metadata trailers) {
      finish(status.getCode());
      super.close(status, trailers);
    }

    /** Records the call once, whichever of close and cancel comes first. */
    void finish(Status.Code code) {
      if (finished.compareAndSet(false, true)) {
        point(getMethodDescriptor().getFullMethodName(), code)
            .observe((System.nanoTime() - startedNanos) / 1e9);
      }
    }
  }
}
