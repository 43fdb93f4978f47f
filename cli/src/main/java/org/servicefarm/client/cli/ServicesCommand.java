package org.servicefarm.client.cli;

import org.servicefarm.api.v1.ListServicesResponse;
import org.servicefarm.api.v1.OfferedService;
import org.servicefarm.client.FarmClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** farmctl services: what the farm can hand out right now and what it could build. */
@Command(
    name = "services",
   
    description = {
      "List the services VMs offer now (offered) and the defined ones a request would build"
          + " (constructible)."
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
      Table table = new Table("SERVICE", "AVAILABILITY", "DEFINITION", "ACTIVE", "SLEEPING",
          "ARCHIVED", "VMS");
      for (OfferedService offered : services.getOfferedList()) {
        table.row(offered.getName(), "offered", Cells.text(offered.getDefinition()),
            offered.getActiveVms(), offered.getSleepingVms(), offered.getArchivedVms(),
            Cells.list(offered.getVmIdsList()));
      }
      for (String constructible : services.getConstructibleList()) {
        // The API names only the service here, not the definition that would build it.
        table.row(constructible, "constructible", Cells.NONE, 0, 0, 0, Cells.NONE);
      }
      farmCtl.output().print(services, table);
    }
  }
}
