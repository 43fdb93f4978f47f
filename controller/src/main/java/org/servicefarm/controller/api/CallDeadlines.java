package org.servicefarm.controller.api;

import io.grpc.Context;
import io.grpc.Deadline;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** How long a call may wait for the farm: the client's deadline when it set one, else a default. */
final class CallDeadlines {
  // Answer a little before the client gives up, so it hears why rather than a bare timeout.
  private static final long MARGIN_MILLIS = 250;

  private CallDeadlines() {}

  static Duration waitFor(Duration fallback) {
    Deadline deadline = Context.current().getDeadline();
    if (deadline == null) {
      return fallback;
    }
    long left = deadline.timeRemaining(TimeUnit.MILLISECONDS) - MARGIN_MILLIS;
    return Duration.ofMillis(Math.max(1, Math.min(left, fallback.toMillis())));
  }
}
