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

  /**
   * Renews the lease, which from now stands for {@code connections} (at least 1) open
   * connections: the farm counts a VM's leases by it against max_leases_per_vm. Answers the new
   * expiry.
   */
  CompletableFuture<Instant> renew(String leaseId, int connections);

  CompletableFuture<Void> release(String leaseId);
}
