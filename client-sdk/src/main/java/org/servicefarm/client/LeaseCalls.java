package org.servicefarm.client;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.servicefarm.api.v1.ReleaseLeaseRequest;
import org.servicefarm.api.v1.RenewLeaseRequest;
import org.servicefarm.api.v1.ServiceBrokerGrpc;
import org.servicefarm.api.v1.ServiceBrokerGrpc.ServiceBrokerBlockingStub;
import org.servicefarm.api.v1.ServiceBrokerGrpc.ServiceBrokerFutureStub;

/**
 * Renewing and releasing leases for {@link FarmClient}. Both are retried like reads: renewing
 * twice extends the lease from now twice, releasing twice ends it once.
 */
final class LeaseCalls {
  private final ServiceBrokerBlockingStub broker;
  private final ServiceBrokerFutureStub brokerAsync;
  private final UnaryCaller caller;
  private final Duration callDeadline;

  LeaseCalls(ServiceBrokerBlockingStub broker, ServiceBrokerFutureStub brokerAsync,
      UnaryCaller caller, Duration callDeadline) {
    this.broker = broker;
    this.brokerAsync = brokerAsync;
    this.caller = caller;
    this.callDeadline = callDeadline;
  }

  /** @param ttl the new TTL, or null for the lease's own */
  Lease renew(String leaseId, Duration ttl) {
    RenewLeaseRequest request = renewRequest(leaseId, ttl);
    return Lease.fromProto(caller.blocking(renewPlan(leaseId),
        deadline -> broker.withDeadline(deadline).renewLease(request)));
  }

  /** {@link #renew} without blocking. */
  CompletableFuture<Lease> renewAsync(String leaseId, Duration ttl) {
    return renewAsync(renewRequest(leaseId, ttl));
  }

  /** Renews by the lease's own TTL, the lease from now standing for {@code connections} users. */
  CompletableFuture<Lease> renewForAsync(String leaseId, int connections) {
    if (connections < 1) {
      throw new IllegalArgumentException("connections must be at least 1, got " + connections);
    }
    return renewAsync(renewRequest(leaseId, null).toBuilder().setConnections(connections)
        .build());
  }

  private CompletableFuture<Lease> renewAsync(RenewLeaseRequest request) {
    String leaseId = request.getLeaseId();
    return caller.async(renewPlan(leaseId),
            deadline -> brokerAsync.withDeadline(deadline).renewLease(request))
        .thenApply(Lease::fromProto);
  }

  void release(String leaseId) {
    ReleaseLeaseRequest request = releaseRequest(leaseId);
    caller.blocking(releasePlan(leaseId),
        deadline -> broker.withDeadline(deadline).releaseLease(request));
  }

  /** {@link #release} without blocking. */
  CompletableFuture<Void> releaseAsync(String leaseId) {
    ReleaseLeaseRequest request = releaseRequest(leaseId);
    return caller.async(releasePlan(leaseId),
            deadline -> brokerAsync.withDeadline(deadline).releaseLease(request))
        .thenApply(released -> null);
  }

  private static RenewLeaseRequest renewRequest(String leaseId, Duration ttl) {
    RenewLeaseRequest.Builder request = RenewLeaseRequest.newBuilder().setLeaseId(require(leaseId));
    if (ttl != null) {
      request.setTtlSeconds(ttlSeconds(ttl));
    }
    return request.build();
  }

  private static ReleaseLeaseRequest releaseRequest(String leaseId) {
    return ReleaseLeaseRequest.newBuilder().setLeaseId(require(leaseId)).build();
  }

  private CallPlan renewPlan(String leaseId) {
    return new CallPlan(ServiceBrokerGrpc.getRenewLeaseMethod(), leaseId, true, callDeadline);
  }

  private CallPlan releasePlan(String leaseId) {
    return new CallPlan(ServiceBrokerGrpc.getReleaseLeaseMethod(), leaseId, true, callDeadline);
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
