package org.servicefarm.gateway;

import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.ServiceAccess;

/** The farm through the SDK's {@link FarmClient}: the same calls, keys and retries as any client. */
final class FarmClientFarm implements Farm {
  private final FarmClient client;

  FarmClientFarm(FarmClient client) {
    this.client = client;
  }

  @Override
  public CompletableFuture<Granted> request(String service) {
    // A fresh idempotency key per call, as the SDK sends: a retry after UNAVAILABLE joins the
    // first attempt's work instead of starting a second VM.
    return client.requestServiceAsync(service).thenApply(FarmClientFarm::granted);
  }

  private static Granted granted(ServiceAccess access) {
    if (access.lease() == null) {
      throw new IllegalStateException("the farm granted no lease on VM " + access.vmId()
          + "; a gateway needs a farm that grants leases");
    }
    return new Granted(access.vmId(), access.host(), access.port(), access.lease().id(),
        access.lease().expiresAt(), access.created());
  }

  @Override
  public CompletableFuture<Instant> renew(String leaseId, int connections) {
    return client.renewLeaseAsync(leaseId, connections).thenApply(l -> l.expiresAt());
  }

  @Override
  public CompletableFuture<Void> release(String leaseId) {
    return client.releaseLeaseAsync(leaseId);
  }
}
