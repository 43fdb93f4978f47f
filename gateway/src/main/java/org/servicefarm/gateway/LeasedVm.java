package org.servicefarm.gateway;

import java.time.Instant;

/**
 * A VM the gateway holds a lease on, with the connections it has open to it. Mutable fields are
 * guarded by the owning {@link ServiceBackends}.
 */
final class LeasedVm {
  final String vmId;
  final String host;
  final int port;
  final String leaseId;
  final long acquiredNanos;
  Instant leaseExpiresAt;
  int connections;
  long idleSinceNanos;
  /** Takes no new connections: the table no longer lists it ACTIVE, or it refused one. */
  boolean stale;
  /** The table has listed it ACTIVE since it was granted: its absence from the table now counts. */
  boolean seenActive;
  boolean renewing;
  /** The connections the farm last heard the lease stands for (a grant stands for one). */
  int reportedConnections = 1;

  LeasedVm(Farm.Granted granted, long nowNanos) {
    this.vmId = granted.vmId();
    this.host = granted.host();
    this.port = granted.port();
    this.leaseId = granted.leaseId();
    this.leaseExpiresAt = granted.leaseExpiresAt();
    this.acquiredNanos = nowNanos;
    this.idleSinceNanos = nowNanos;
  }

  @Override
  public String toString() {
    return "VM " + vmId + " at " + host + ":" + port;
  }
}
