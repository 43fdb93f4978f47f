package org.servicefarm.client.cli;

import org.servicefarm.api.v1.ListServicesResponse;
import org.servicefarm.api.v1.OfferedService;
import org.servicefarm.api.v1.ServiceGateway;
import java.util.HashMap;
import java.util.Map;
import org.servicefarm.client.FarmClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** farmctl services: what the farm can hand out right now and what it could build. */
@Command(
    name = "services",
   
    description = {
      "List the services VMs offer now (offered) and the defined ones a request would build"
          + " (constructible), each with its stable gateway address."
    },
    footer = {
      "%nExample:",
      "  farmctl services -o json",
    })
final class ServicesCommand implements Runnable {

  @Spec
  private CommandSpec spec;

  @Override
  public void run() {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      ListServicesResponse services = client.listServices();
      Table table = new Table("SERVICE", "AVAILABILITY", "GATEWAY", "DEFINITION", "ACTIVE",
          "SLEEPING", "ARCHIVED", "VMS");
      // A farm older than its gateways sends no gateway addresses: the column shows none.
      Map<String, String> gateways = new HashMap<>();
      for (ServiceGateway g : services.getGatewaysList()) {
        gateways.put(g.getService(), g.getGatewayAddress());
      }
      for (OfferedService offered : services.getOfferedList()) {
        table.row(offered.getName(), "offered",
            Cells.text(gateways.getOrDefault(offered.getName(), offered.getGatewayAddress())),
            Cells.text(offered.getDefinition()),
            offered.getActiveVms(), offered.getSleepingVms(), offered.getArchivedVms(),
            Cells.list(offered.getVmIdsList()));
      }
      for (String constructible : services.getConstructibleList()) {
        // The API names only the service here, not the definition that would build it.
        table.row(constructible, "constructible",
            Cells.text(gateways.getOrDefault(constructible, "")), Cells.NONE, 0, 0, 0, Cells.NONE);
      }
      farmCtl.output().print(services, table);
    }
  }
}
