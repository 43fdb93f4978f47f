package org.servicefarm.client;

import io.grpc.Metadata;
import io.grpc.Status;

/**
 * The controller refused the call because this token sent more requests per second than the
 * farm allows (its {@code --rate-limit}). Idempotent calls are retried after a backoff first.
 */
public class RateLimitedException extends FarmException {
  static final Metadata.Key<String> MARK =
      Metadata.Key.of("servicefarm-rate-limited", Metadata.ASCII_STRING_MARSHALLER);

  /** Used by the SDK's status mapping; {@code serverMessage} is the farm's own words. */
  public RateLimitedException(String serverMessage, String message, Throwable cause) {
    super(Status.Code.RESOURCE_EXHAUSTED, serverMessage, message, cause);
  }

  /** Whether a failed call was refused by the rate limit (not for want of capacity). */
  static boolean isRateLimit(Throwable error) {
    Metadata trailers = Status.trailersFromThrowable(error);
    return Status.fromThrowable(error).getCode() == Status.Code.RESOURCE_EXHAUSTED
        && trailers != null && trailers.containsKey(MARK);
  }
}
