package org.servicefarm.client;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.servicefarm.api.v1.OperationUpdate;
import org.servicefarm.api.v1.RequestServiceRequest;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.ServiceBrokerGrpc;
import org.servicefarm.api.v1.ServiceBrokerGrpc.ServiceBrokerBlockingStub;
import org.servicefarm.api.v1.ServiceBrokerGrpc.ServiceBrokerFutureStub;

/**
 * The forms of RequestService behind {@link FarmClient}: blocking, asynchronous, without waiting,
 * and with progress. Every request carries an idempotency key, so each is safe to retry.
 */
final class RequestCalls {
  private final ServiceBrokerBlockingStub broker;
  private final ServiceBrokerFutureStub brokerAsync;
  private final UnaryCaller caller;
  private final WatchCalls watches;
  private final Duration requestDeadline;

  RequestCalls(ServiceBrokerBlockingStub broker, ServiceBrokerFutureStub brokerAsync,
      UnaryCaller caller, WatchCalls watches, Duration requestDeadline) {
    this.broker = broker;
    this.brokerAsync = brokerAsync;
    this.caller = caller;
    this.watches = watches;
    this.requestDeadline = requestDeadline;
  }

  /** @param leaseTtl the lease's TTL, or null for the farm's default */
  ServiceAccess request(String service, String idempotencyKey, Duration leaseTtl) {
    RequestServiceRequest request = build(service, idempotencyKey, leaseTtl);
    return caller.blocking(plan(service), deadline -> ServiceAccess.fromProto(
        broker.withDeadline(deadline).requestService(request), service));
  }

  CompletableFuture<ServiceAccess> requestAsync(String service, String idempotencyKey) {
    RequestServiceRequest request = build(service, idempotencyKey, null);
    return caller.async(plan(service),
            deadline -> brokerAsync.withDeadline(deadline).requestService(request))
        .thenApply(response -> ServiceAccess.fromProto(response, service));
  }

  RequestServiceResponse requestNoWait(String service, String idempotencyKey) {
    RequestServiceRequest request =
        build(service, idempotencyKey, null).toBuilder().setNoWait(true).build();
    return caller.blocking(plan(service),
        deadline -> broker.withDeadline(deadline).requestService(request));
  }

  ServiceAccess requestWithProgress(String service, String idempotencyKey, Duration leaseTtl,
      Consumer<OperationUpdate> progress) {
    return watches.requestWithProgress(build(service, idempotencyKey, leaseTtl), plan(service),
        progress);
  }

  private static RequestServiceRequest build(String service, String idempotencyKey,
      Duration leaseTtl) {
    Objects.requireNonNull(service, "service");
    if (idempotencyKey == null || idempotencyKey.isBlank()) {
      throw new IllegalArgumentException("idempotency key must not be blank;"
          + " call requestService(service) to have one generated");
    }
    RequestServiceRequest.Builder request = RequestServiceRequest.newBuilder()
        .setService(service).setIdempotencyKey(idempotencyKey);
    if (leaseTtl != null) {
      request.setLeaseTtlSeconds(LeaseCalls.ttlSeconds(leaseTtl));
    }
    return request.build();
  }

  private CallPlan plan(String service) {
    return new CallPlan(ServiceBrokerGrpc.getRequestServiceMethod(), service, true,
        requestDeadline);
  }
}
