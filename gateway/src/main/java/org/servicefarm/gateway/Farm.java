package org.servicefarm.gateway;

import java.time.Instant;
import java.util.concurrent.CompletableFuture;

/**
 * What the gateway asks of the farm: the three ServiceBroker calls its role allows. The product
 * implementation is {@link FarmClientFarm}; unit tests pass a fake named so.
 */
public interface Farm {

  /** A VM offering the service, its address and the lease the request took on it. */
  record Granted(String vmId, String host, int port, String leaseId, Instant leaseExpiresAt,
      boolean created) {}

  /** RequestService as the SDK sends it; fails with the SDK's exceptions. */
  CompletableFuture<Granted> request(String service);

  /** Renews the lease; answers its new expiry. */
  CompletableFuture<Instant> renew(String leaseId);

  CompletableFuture<Void> release(String leaseId);
}
