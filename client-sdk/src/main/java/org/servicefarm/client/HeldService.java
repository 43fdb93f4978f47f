package org.servicefarm.client;

import io.grpc.Status;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A service held while this object is open: its lease is renewed in the background every third of
 * its TTL, and released on {@link #close()}, so the farm keeps the VM running exactly as long as
 * the caller uses it.
 *
 * <pre>{@code
 * try (HeldService redis = farm.hold("redis")) {
 *   connectTo(redis.access().endpoint());
 * }
 * }</pre>
 *
 * <p>A renewal that fails is tried again sooner (every sixth of the TTL) until one succeeds or the
 * lease has ended; {@link #lastRenewalError()} tells what went wrong, and {@link #held()} turns
 * false once the farm no longer holds the VM for this caller. Thread-safe.
 */
public final class HeldService implements AutoCloseable {
  private final FarmClient client;
  private final ServiceAccess access;
  private final Duration renewEvery;
  private final Duration retryEvery;
  private final ScheduledExecutorService timer;
  private volatile Lease lease;
  private volatile FarmException lastRenewalError;
  private volatile boolean lost;
  private volatile boolean closed;

  HeldService(FarmClient client, ServiceAccess access) {
    if (access.lease() == null) {
      throw new FarmException(Status.Code.UNIMPLEMENTED, "", "the farm answered service \""
          + access.service() + "\" without a lease, so it cannot be held; it predates leases",
          null);
    }
    this.client = client;
    this.access = access;
    this.lease = access.lease();
    this.renewEvery = lease.ttl().dividedBy(3);
    this.retryEvery = lease.ttl().dividedBy(6);
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "servicefarm-lease-" + access.service());
      t.setDaemon(true);
      return t;
    });
    schedule(renewEvery);
  }

  /** Where to reach the service, with the lease as last renewed. */
  public ServiceAccess access() {
    return new ServiceAccess(access.vmId(), access.service(), access.host(), access.port(),
        access.state(), access.created(), lease, access.gatewayAddress());
  }

  /** The lease as last granted or renewed. */
  public Lease lease() {
    return lease;
  }

  /** Why the latest renewal failed; empty once a renewal succeeds again. */
  public Optional<FarmException> lastRenewalError() {
    return Optional.ofNullable(lastRenewalError);
  }

  /**
   * Whether the farm still holds the VM for this caller: false once closed, or once a renewal
   * found the lease ended (expired while the farm was unreachable, or released elsewhere). A lost
   * hold is not renewed any more; request the service again for a new one.
   */
  public boolean held() {
    return !closed && !lost;
  }

  private void renew() {
    Duration next = renewEvery;
    try {
      lease = client.renewLease(lease.id());
      lastRenewalError = null;
    } catch (FarmException e) {
      lastRenewalError = e;
      if (e.code() == Status.Code.NOT_FOUND || e.code() == Status.Code.FAILED_PRECONDITION) {
        lost = true; // the lease has ended: renewing cannot bring it back
        return;
      }
      next = retryEvery;
    } catch (RuntimeException e) {
      lastRenewalError = new FarmException(Status.Code.UNKNOWN, "",
          "renewing lease " + lease.id() + " failed: " + e, e);
      next = retryEvery;
    }
    schedule(next);
  }

  private void schedule(Duration delay) {
    if (closed) {
      return;
    }
    try {
      timer.schedule(this::renew, delay.toNanos(), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // Only a closed timer refuses; close() raced this renewal and is releasing the lease.
      if (!closed) {
        throw e;
      }
    }
  }

  /**
   * Stops renewing and releases the lease (unless it has ended already).
   *
   * @throws FarmException when the release fails; the lease then expires on its own at
   *     {@link Lease#expiresAt()}
   */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    timer.shutdownNow();
    try {
      // A renewal in flight is cancelled; wait for it so it cannot land after the release.
      timer.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (!lost) {
      client.releaseLease(lease.id());
    }
  }
}
