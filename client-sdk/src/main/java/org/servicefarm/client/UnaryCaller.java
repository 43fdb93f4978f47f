package org.servicefarm.client;

import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Runs unary calls with the client's deadline, retry and error mapping, so each {@link FarmClient}
 * method states only what it calls.
 *
 * <p>One deadline covers the whole call, retries and pauses included: a caller who gave
 * RequestService two minutes gets an answer or an error within two minutes. Only UNAVAILABLE (and
 * a stream the connection reset, which a controller shutting down mid-call causes) is retried,
 * and only for idempotent calls: it usually means the call got no answer from the controller,
 * while any other failure would just repeat. An idempotent call the farm stopped waiting on
 * before the caller's deadline (DEADLINE_EXCEEDED with time left) is asked again until then.
 */
final class UnaryCaller {
  // The farm answers a quarter of a second before a caller's deadline; more time left than this
  // means the farm's own wait ended, not the caller's.
  private static final long SERVER_ANSWERS_BEFORE_MILLIS = 1000;

  private final int maxAttempts;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final StatusMapper mapper;

  UnaryCaller(FarmClientOptions options, StatusMapper mapper) {
    this.maxAttempts = options.maxAttempts();
    this.initialBackoff = options.initialBackoff();
    this.maxBackoff = options.maxBackoff();
    this.mapper = mapper;
  }

  /**
   * @param attempt makes one call on a stub bound to the given deadline
   * @throws FarmException when the last attempt failed
   */
  <T> T blocking(CallPlan plan, Function<Deadline, T> attempt) {
    Deadline deadline = deadlineFor(plan);
    for (int attempts = 1; ; attempts++) {
      try {
        return attempt.apply(deadline);
      } catch (StatusRuntimeException e) {
        Duration pause = pauseBeforeRetry(e, plan, attempts, deadline);
        if (pause == null) {
          throw mapper.map(e, plan, attempts);
        }
        sleep(pause, plan);
      }
    }
  }

  /**
   * @param attempt starts one call on a future stub bound to the given deadline
   * @return completes with the answer, or exceptionally with a {@link FarmException}; cancelling
   *     it cancels the call in flight
   */
  <T> CompletableFuture<T> async(CallPlan plan, Function<Deadline, ListenableFuture<T>> attempt) {
    CompletableFuture<T> result = new CompletableFuture<>();
    startAttempt(plan, attempt, deadlineFor(plan), 1, result);
    return result;
  }

  private <T> void startAttempt(CallPlan plan, Function<Deadline, ListenableFuture<T>> attempt,
      Deadline deadline, int attempts, CompletableFuture<T> result) {
    if (result.isDone()) {
      return; // the caller cancelled while we paused between attempts
    }
    ListenableFuture<T> call = attempt.apply(deadline);
    result.whenComplete((value, error) -> {
      if (result.isCancelled()) {
        call.cancel(true);
      }
    });
    call.addListener(() -> {
      try {
        result.complete(call.get()); // done already: get() does not block
      } catch (ExecutionException e) {
        Throwable cause = e.getCause();
        Duration pause = pauseBeforeRetry(cause, plan, attempts, deadline);
        if (pause == null) {
          result.completeExceptionally(mapper.map(cause, plan, attempts));
        } else {
          CompletableFuture.delayedExecutor(pause.toNanos(), TimeUnit.NANOSECONDS).execute(
              () -> startAttempt(plan, attempt, deadline, attempts + 1, result));
        }
      } catch (CancellationException e) {
        result.cancel(false);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        result.completeExceptionally(e);
      }
    }, Runnable::run);
  }

  private static Deadline deadlineFor(CallPlan plan) {
    return Deadline.after(plan.timeout().toNanos(), TimeUnit.NANOSECONDS);
  }

  /** The pause before the next attempt, or null when the call must not be tried again. */
  private Duration pauseBeforeRetry(Throwable failure, CallPlan plan, int attempts,
      Deadline deadline) {
    Status status = Status.fromThrowable(failure);
    if (plan.idempotent() && farmStoppedWaitingFirst(status, deadline)) {
      // The farm keeps working on it; ask again with the same request for the time left (after
      // a short pause, so a farm that answers so at once is not asked in a tight loop).
      return backoff(1);
    }
    boolean worthRetrying = status.getCode() == Status.Code.UNAVAILABLE
        || resetStream(status) || RateLimitedException.isRateLimit(failure);
    if (!worthRetrying || !plan.idempotent() || attempts >= maxAttempts) {
      return null;
    }
    Duration pause = backoff(attempts);
    // Pausing past the deadline would only trade a clear UNAVAILABLE for a vague timeout.
    return deadline.timeRemaining(TimeUnit.NANOSECONDS) > pause.toNanos() ? pause : null;
  }

  /**
   * DEADLINE_EXCEEDED while this call's own deadline is still a second away: the controller waits
   * at most its own limit (--request-wait) for a VM, then answers that it is still working on it.
   * A caller who gave the call longer keeps waiting, as it asked.
   */
  private static boolean farmStoppedWaitingFirst(Status status, Deadline deadline) {
    return status.getCode() == Status.Code.DEADLINE_EXCEEDED
        && deadline.timeRemaining(TimeUnit.MILLISECONDS) > SERVER_ANSWERS_BEFORE_MILLIS;
  }

  /**
   * An HTTP/2 RST_STREAM: the transport (a controller stopping, a proxy) cut the call, grpc-java
   * reports it as INTERNAL, but the farm never answered it.
   */
  static boolean resetStream(Status status) {
    String description = status.getDescription();
    return status.getCode() == Status.Code.INTERNAL && description != null
        && description.startsWith("RST_STREAM closed stream");
  }

  /** Exponential, capped, with jitter so many clients cut off together do not return together. */
  private Duration backoff(int attemptsSoFar) {
    long initial = initialBackoff.toNanos();
    long ceiling = maxBackoff.toNanos();
    long exponential = initial << Math.min(attemptsSoFar - 1, 20);
    long capped = exponential <= 0 || exponential > ceiling ? ceiling : exponential;
    double jitter = 0.5 + 0.5 * ThreadLocalRandom.current().nextDouble();
    return Duration.ofNanos(Math.max(1, (long) (capped * jitter)));
  }

  private static void sleep(Duration pause, CallPlan plan) {
    try {
      Thread.sleep(pause.toMillis(), (int) (pause.toNanos() % 1_000_000));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new FarmException(Status.Code.CANCELLED, "",
          plan.methodName() + " was interrupted while waiting to retry", e);
    }
  }
}
