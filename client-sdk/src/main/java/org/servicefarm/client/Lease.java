package org.servicefarm.client;

import java.time.Duration;
import java.time.Instant;

/**
 * A hold on the VM a request was answered with. While a lease is live the farm keeps the VM
 * running; renew it before {@link #expiresAt()} ({@link FarmClient#renewLease}) and release it
 * when done ({@link FarmClient#releaseLease}), or let {@link FarmClient#hold} do both.
 *
 * @param id the lease's id, for renewing and releasing it
 * @param vmId the VM it holds
 * @param service the service it was granted for
 * @param expiresAt when it ends unless renewed
 * @param ttl how long each renewal extends it by
 */
public record Lease(String id, String vmId, String service, Instant expiresAt, Duration ttl) {

  /** The same lease as the API message. */
  public org.servicefarm.api.v1.Lease toProto() {
    return org.servicefarm.api.v1.Lease.newBuilder()
        .setId(id)
        .setVmId(vmId)
        .setService(service)
        .setExpiresAt(com.google.protobuf.Timestamp.newBuilder()
            .setSeconds(expiresAt.getEpochSecond()).setNanos(expiresAt.getNano()))
        .setTtlSeconds((int) ttl.toSeconds())
        .build();
  }

  static Lease fromProto(org.servicefarm.api.v1.Lease lease) {
    return new Lease(lease.getId(), lease.getVmId(), lease.getService(),
        Instant.ofEpochSecond(lease.getExpiresAt().getSeconds(), lease.getExpiresAt().getNanos()),
        Duration.ofSeconds(lease.getTtlSeconds()));
  }
}
