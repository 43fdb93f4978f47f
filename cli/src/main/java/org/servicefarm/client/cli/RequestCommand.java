package org.servicefarm.client.cli;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.UUID;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.Lease;
import org.servicefarm.client.ServiceAccess;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** farmctl request: the one call clients make, ask for a service and get where to reach it. */
@Command(
    name = "request",
   
    description = {
      "Ask for a service by name and print where to reach it.",
      "Wakes a sleeping VM or builds a new one when needed, which can take minutes."
    },
    footer = {
      "%nExample:",
      "  farmctl request redis --idempotency-key deploy-42",
    })
final class RequestCommand implements Runnable {

  @Parameters(paramLabel = "<service>", description = "The service's name, e.g. redis.")
  private String service;

  @Option(names = "--idempotency-key", paramLabel = "KEY",
      description = "Requests with the same key answer the same VM (default: a fresh key).")
  private String idempotencyKey;

  @Option(names = "--lease-ttl", paramLabel = "SECONDS",
      description = "How long the granted lease lasts unless renewed, 1 to 3600"
          + " (default: the farm's, 60 s); see 'farmctl lease'.")
  private Integer leaseTtl;

  @Option(names = "--progress",
      description = "Draw a progress bar on stderr while the farm works (default: when farmctl"
          + " runs on a terminal).")
  private boolean progress;

  @Spec
  private CommandSpec spec;

  @Override
  public void run() {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      String key = idempotencyKey == null ? UUID.randomUUID().toString() : idempotencyKey;
      ServiceAccess access = progress || onTerminal()
          ? requestWithProgress(client, key)
          : leaseTtl == null
              ? client.requestService(service, key)
              : client.requestService(service, key, Duration.ofSeconds(leaseTtl));
      Lease lease = access.lease();
      Table table = new Table("ENDPOINT", "VM", "STATE", "CREATED", "LEASE", "EXPIRES",
          "GATEWAY")
          .row(access.endpoint(), access.vmId(), Cells.state(access.state()),
              Cells.yesNo(access.created()), lease == null ? Cells.NONE : lease.id(),
              lease == null ? Cells.NONE : lease.expiresAt().truncatedTo(ChronoUnit.SECONDS),
              Cells.text(access.gatewayAddress()));
      farmCtl.output().print(access.toProto(), table);
    }
  }

  private ServiceAccess requestWithProgress(FarmClient client, String key) {
    ProgressBar bar = new ProgressBar(spec.commandLine().getErr());
    try {
      return leaseTtl == null
          ? client.requestServiceWithProgress(service, key, bar::draw)
          : client.requestServiceWithProgress(service, key, Duration.ofSeconds(leaseTtl),
              bar::draw);
    } finally {
      bar.finish();
    }
  }

  /**
   * Java 17 cannot ask whether stderr alone is a terminal; a console means farmctl runs
   * interactively, where stderr is the terminal too unless redirected on purpose.
   */
  private static boolean onTerminal() {
    return System.console() != null;
  }
}
