package org.servicefarm.client.cli;

import org.servicefarm.client.FarmClient;
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

  @Spec
  private CommandSpec spec;

  @Override
  public void run() {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      ServiceAccess access = idempotencyKey == null
          ? client.requestService(service)
          : client.requestService(service, idempotencyKey);
      Table table = new Table("ENDPOINT", "VM", "STATE", "CREATED")
          .row(access.endpoint(), access.vmId(), Cells.state(access.state()),
              Cells.yesNo(access.created()));
      farmCtl.output().print(access.toProto(), table);
    }
  }
}
