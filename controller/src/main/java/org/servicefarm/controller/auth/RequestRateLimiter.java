package org.servicefarm.controller.auth;

import io.grpc.Metadata;
import io.grpc.Status;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Token buckets, one per caller (a bearer token's id, or a peer address when there are no
 * tokens): each holds up to {@code burst} requests and refills at {@code perSecond}. A call is
 * counted once when it starts, so a long stream (an agent's Connect, a blob transfer) costs one
 * request however many messages it carries.
 */
public final class RequestRateLimiter {
  /** Past this many callers, buckets that are full again (idle callers) are dropped. */
  static final int MAX_CALLERS = 10_000;

  /** A rate and burst; a rate of 0 turns limiting off. */
  public record Limit(int perSecond, int burst) {
    public static final Limit DEFAULT = new Limit(200, 400);
    public static final Limit OFF = new Limit(0, 0);

    public Limit {
      if (perSecond < 0 || burst < 0 || perSecond > 0 && burst < 1) {
        throw new IllegalArgumentException("rate limit " + perSecond + " requests/s with burst "
            + burst + ": the rate must be 0 (off) or more, and the burst at least 1");
      }
    }

    /** {@code perSecond} with a burst of two seconds' worth; 0 is off. */
    public static Limit perSecond(int perSecond) {
      return perSecond == 0 ? OFF : new Limit(perSecond, (int) Math.min(Integer.MAX_VALUE,
          2L * perSecond));
    }

    public boolean off() {
      return perSecond == 0;
    }
  }

  private final Limit limit;
  private final LongSupplier nanoTime;
  private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();

  /** @param nanoTime a monotonic clock in nanoseconds ({@code System::nanoTime}, or a test's) */
  public RequestRateLimiter(Limit limit, LongSupplier nanoTime) {
    this.limit = limit;
    this.nanoTime = nanoTime;
  }

  public Limit limit() {
    return limit;
  }

  /**
   * Takes one request from the caller's bucket; when it is empty, RESOURCE_EXHAUSTED naming
   * {@code who} (a token's name or a peer address, never a secret) and the limit.
   */
  /**
   * The trailer that marks a refusal as this limiter's, so a client can tell "slow down" from "no
   * host has room" (both RESOURCE_EXHAUSTED).
   */
  public static final Metadata.Key<String> RATE_LIMITED =
      Metadata.Key.of("servicefarm-rate-limited", Metadata.ASCII_STRING_MARSHALLER);

  /** Trailers to close a refused call with: marked when the refusal is this limiter's. */
  public static Metadata trailersFor(Status refusal) {
    Metadata trailers = new Metadata();
    if (refusal.getCode() == Status.Code.RESOURCE_EXHAUSTED) {
      trailers.put(RATE_LIMITED, "true");
    }
    return trailers;
  }

  public Optional<Status> refusal(String callerKey, String who) {
    if (limit.off()) {
      return Optional.empty();
    }
    long now = nanoTime.getAsLong();
    if (buckets.size() > MAX_CALLERS) {
      buckets.values().removeIf(b -> b.fullAt(now));
    }
    if (buckets.computeIfAbsent(callerKey, k -> new Bucket(now)).take(now)) {
      return Optional.empty();
    }
    return Optional.of(Status.RESOURCE_EXHAUSTED.withDescription(who + " sent more than "
        + limit.perSecond() + " requests/s (burst " + limit.burst()
        + "); slow down and retry"));
  }

  private final class Bucket {
    private double tokens;
    private long refilledAt;

    Bucket(long now) {
      this.tokens = limit.burst();
      this.refilledAt = now;
    }

    synchronized boolean take(long now) {
      refill(now);
      if (tokens < 1) {
        return false;
      }
      tokens -= 1;
      return true;
    }

    synchronized boolean fullAt(long now) {
      refill(now);
      return tokens >= limit.burst();
    }

    private void refill(long now) {
      long elapsed = Math.max(0, now - refilledAt);
      tokens = Math.min(limit.burst(), tokens + elapsed * (limit.perSecond() / 1e9));
      refilledAt = Math.max(refilledAt, now);
    }
  }
}
