package org.servicefarm.client.cli;

import java.util.Locale;
import org.servicefarm.api.v1.Host;
import org.servicefarm.client.FarmClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** farmctl host: take a host out of service for maintenance, and back. */
@Command(
    name = "host",
    description = {"List hosts (as farmctl hosts), drain a host (move its VMs elsewhere, place",
      "nothing new on it) or uncordon it."},
    footer = {
      "%nExample:",
      "  farmctl host drain sim-1",
      "  farmctl events --host sim-1 --follow",
    })
final class HostCommand {

  @Spec
  private CommandSpec spec;

  @Command(name = "drain",
      description = {"Stop placing VMs on the host and move each of its VMs to another host",
          "(archived, then restored there, keeping its id). Returns once the move has started."},
      footer = {"%nExample:", "  farmctl host drain sim-1"})
  void drain(@Parameters(paramLabel = "<host-id>", description = "The host's id.") String hostId) {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      show(farmCtl, client.drainHost(hostId));
    }
  }

  @Command(name = "uncordon", description = "Let a drained host take new VMs again.",
      footer = {"%nExample:", "  farmctl host uncordon sim-1"})
  void uncordon(@Parameters(paramLabel = "<host-id>", description = "The host's id.")
      String hostId) {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      show(farmCtl, client.uncordonHost(hostId));
    }
  }

  private static void show(FarmCtl farmCtl, Host host) {
    Table table = new Table("HOST", "STATUS", "ADDRESS", "VMS", "MEM_ALLOC_MB")
        .row(host.getId(), Cells.status(host.getStatus()), Cells.text(host.getAddress()),
            host.getLoad().getVmCount(),
            String.format(Locale.ROOT, "%d/%d", host.getAllocatedMemoryMb(),
                host.getCapacity().getMemoryMb()));
    farmCtl.output().print(host, table);
  }
}
