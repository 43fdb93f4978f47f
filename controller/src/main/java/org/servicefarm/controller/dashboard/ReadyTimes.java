package org.servicefarm.controller.dashboard;

import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.ServiceBrokerGrpc;
import org.servicefarm.controller.audit.CallAudit;

/**
 * How long requests took to answer with a ready VM, by the path the broker took (warm, woke,
 * restored, built; joined: a VM another request was readying): the dashboard's distribution
 * plot. Times RequestService on the controller that served it (it sits inside the leader
 * routing), from the call's arrival to its answer, for answers that carry an endpoint (a
 * no_wait answer does not wait, so it says nothing of readiness).
 *
 * <p>Kept in memory, bounded: the newest {@value #KEPT_PER_PATH} answers of each path within
 * the last hour. A new leader starts empty; the plot says what it covers.
 */
public final class ReadyTimes implements ServerInterceptor {
  static final int KEPT_PER_PATH = 2000;
  static final Duration SPAN = Duration.ofHours(1);
  /** The paths in the order the plot shows them. */
  static final List<String> PATHS = List.of("warm", "woke", "restored", "built", "joined");
  /** Upper bounds of the histogram's buckets in seconds; the last bucket takes the rest. */
  static final double[] BUCKET_SECONDS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
      10, 30, 60, 120, 300};

  private static final String REQUEST_SERVICE =
      ServiceBrokerGrpc.getRequestServiceMethod().getFullMethodName();

  /** One answered request: when it was answered and how long it took. */
  record Sample(Instant at, double seconds) {}

  private final Clock clock;
  private final Map<String, Deque<Sample>> byPath = new LinkedHashMap<>();

  public ReadyTimes(Clock clock) {
    this.clock = clock;
    PATHS.forEach(p -> byPath.put(p, new ArrayDeque<>()));
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    if (!call.getMethodDescriptor().getFullMethodName().equals(REQUEST_SERVICE)) {
      return next.startCall(call, headers);
    }
    long started = System.nanoTime();
    // Read while the call's context is current: close() may run on another thread.
    CallAudit audit = CallAudit.current().orElse(null);
    return next.startCall(new SimpleForwardingServerCall<>(call) {
      private boolean answeredWithAccess;

      @Override
      public void sendMessage(R message) {
        if (message instanceof RequestServiceResponse response && response.hasAccess()) {
          answeredWithAccess = true;
        }
        super.sendMessage(message);
      }

      @Override
      public void close(Status status, Metadata trailers) {
        if (status.isOk() && answeredWithAccess && audit != null) {
          audit.requestPath().ifPresent(path ->
              record(path, (System.nanoTime() - started) / 1e9));
        }
        super.close(status, trailers);
      }
    }, headers);
  }

  void record(String path, double seconds) {
    Deque<Sample> samples = byPath.get(path);
    if (samples == null) {
      return;
    }
    synchronized (byPath) {
      samples.addLast(new Sample(clock.instant(), seconds));
      while (samples.size() > KEPT_PER_PATH) {
        samples.removeFirst();
      }
    }
  }

  /** Per path, the answers within the last hour, oldest first. */
  Map<String, List<Sample>> lastHour() {
    Instant since = clock.instant().minus(SPAN);
    Map<String, List<Sample>> copy = new LinkedHashMap<>();
    synchronized (byPath) {
      byPath.forEach((path, samples) -> {
        samples.removeIf(s -> s.at().isBefore(since));
        copy.put(path, new ArrayList<>(samples));
      });
    }
    return copy;
  }

  /** The bucket a time falls in: the first whose bound it does not pass, else the last. */
  static int bucket(double seconds) {
    for (int i = 0; i < BUCKET_SECONDS.length; i++) {
      if (seconds <= BUCKET_SECONDS[i]) {
        return i;
      }
    }
    return BUCKET_SECONDS.length;
  }
}
