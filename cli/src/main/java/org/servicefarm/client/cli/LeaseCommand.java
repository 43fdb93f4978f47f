package org.servicefarm.client.cli;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import org.servicefarm.api.v1.ReleaseLeaseResponse;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.Lease;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * farmctl lease: keep holding the VM a request answered, or let it go. A VM with no live lease is
 * idle, and its definition's idle ladder may put it to sleep.
 */
@Command(
    name = "lease",
    description = "Renew or release a lease that 'farmctl request' granted.",
    footer = {
      "%nExample:",
      "  farmctl lease renew 9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d --ttl 300",
    })
final class LeaseCommand {

  @Spec
  private CommandSpec spec;

  @Command(name = "renew",
      description = "Extend a live lease from now by its TTL, or by --ttl (which becomes its TTL).",
      footer = {"%nExample:", "  farmctl lease renew 9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"})
  void renew(
      @Parameters(paramLabel = "<lease-id>", description = "The lease's id.") String leaseId,
      @Option(names = "--ttl", paramLabel = "SECONDS",
          description = "New TTL in seconds, 1 to 3600 (default: the lease's own).") Integer ttl) {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      Lease lease = ttl == null ? client.renewLease(leaseId)
          : client.renewLease(leaseId, Duration.ofSeconds(ttl));
      farmCtl.output().print(lease.toProto(), table(lease));
    }
  }

  @Command(name = "release",
      description = "End a lease: you are done with the VM. Releasing twice is fine.",
      footer = {"%nExample:", "  farmctl lease release 9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"})
  void release(
      @Parameters(paramLabel = "<lease-id>", description = "The lease's id.") String leaseId) {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      client.releaseLease(leaseId);
      farmCtl.output().print(ReleaseLeaseResponse.getDefaultInstance(),
          new Table("LEASE", "RELEASED").row(leaseId, "yes"));
    }
  }

  static Table table(Lease lease) {
    return new Table("LEASE", "VM", "SERVICE", "EXPIRES", "TTL")
        .row(lease.id(), lease.vmId(), lease.service(),
            lease.expiresAt().truncatedTo(ChronoUnit.SECONDS),
            lease.ttl().toSeconds() + "s");
  }
}
