package org.servicefarm.client;

import java.time.Duration;
import java.util.Objects;
import org.servicefarm.api.v1.ReleaseLeaseRequest;
import org.servicefarm.api.v1.RenewLeaseRequest;
import org.servicefarm.api.v1.ServiceBrokerGrpc;
import org.servicefarm.api.v1.ServiceBrokerGrpc.ServiceBrokerBlockingStub;

/**
 * Renewing and releasing leases for {@link FarmClient}. Both are retried like reads: renewing
 * twice extends the lease from now twice, releasing twice ends it once.
 */
final class LeaseCalls {
  private final ServiceBrokerBlockingStub broker;
  private final UnaryCaller caller;
  private final Duration callDeadline;

  LeaseCalls(ServiceBrokerBlockingStub broker, UnaryCaller caller, Duration callDeadline) {
    this.broker = broker;
    this.caller = caller;
    this.callDeadline = callDeadline;
  }

  /** @param ttl the new TTL, or null for the lease's own */
  Lease renew(String leaseId, Duration ttl) {
    RenewLeaseRequest.Builder request = RenewLeaseRequest.newBuilder().setLeaseId(require(leaseId));
    if (ttl != null) {
      request.setTtlSeconds(ttlSeconds(ttl));
    }
    CallPlan plan = new CallPlan(ServiceBrokerGrpc.getRenewLeaseMethod(), leaseId, true,
        callDeadline);
    return Lease.fromProto(caller.blocking(plan,
        deadline -> broker.withDeadline(deadline).renewLease(request.build())));
  }

  void release(String leaseId) {
    ReleaseLeaseRequest request =
        ReleaseLeaseRequest.newBuilder().setLeaseId(require(leaseId)).build();
    CallPlan plan = new CallPlan(ServiceBrokerGrpc.getReleaseLeaseMethod(), leaseId, true,
        callDeadline);
    caller.blocking(plan, deadline -> broker.withDeadline(deadline).releaseLease(request));
  }

  /** The API counts TTLs in whole seconds; anything else is the caller's mistake, said early. */
  static int ttlSeconds(Duration ttl) {
    Objects.requireNonNull(ttl, "ttl");
    if (ttl.toSeconds() < 1 || ttl.getNano() != 0) {
      throw new IllegalArgumentException("lease TTL must be whole seconds, at least 1 s: " + ttl);
    }
    return (int) Math.min(Integer.MAX_VALUE, ttl.toSeconds());
  }

  private static String require(String leaseId) {
    Objects.requireNonNull(leaseId, "leaseId");
    if (leaseId.isBlank()) {
      throw new IllegalArgumentException("lease id must not be blank");
    }
    return leaseId;
  }
}
