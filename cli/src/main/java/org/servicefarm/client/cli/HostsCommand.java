package org.servicefarm.client.cli;

import java.util.List;
import java.util.Locale;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.ListHostsResponse;
import org.servicefarm.client.FarmClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * farmctl hosts, also farmctl host list: the farm hosts, their load and what is promised to their
 * VMs.
 */
@Command(
    name = "hosts",
   
    description = "List the farm hosts with their status, load and allocations.",
    footer = {
      "%nExample:",
      "  ${COMMAND-FULL-NAME} -o json",
    })
final class HostsCommand implements Runnable {

  @Spec
  private CommandSpec spec;

  @Override
  public void run() {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      List<Host> hosts = client.listHosts();
      // Memory: measured use of the total, then promised to VMs of the capacity; vCPUs likewise.
      Table table = new Table("HOST", "STATUS", "ADDRESS", "HYPERVISOR", "CPU%", "MEM_USED_MB",
          "MEM_ALLOC_MB", "VCPU_ALLOC", "VMS", "CONNECTED", "LAST_REPORT", "LABELS", "OVERCOMMIT");
      for (Host host : hosts) {
        table.row(host.getId(), Cells.status(host.getStatus()), Cells.text(host.getAddress()),
            Cells.text(host.getHypervisor()),
            String.format(Locale.ROOT, "%.1f", host.getLoad().getCpuPercent()),
            host.getLoad().getMemoryUsedMb() + "/" + host.getLoad().getMemoryTotalMb(),
            host.getAllocatedMemoryMb() + "/" + host.getCapacity().getMemoryMb(),
            host.getAllocatedVcpus() + "/" + host.getCapacity().getVcpus(),
            host.getLoad().getVmCount(), Cells.yesNo(host.getConnected()),
            Cells.time(host.getLastReportAt()), Labels.cell(host.getLabelsMap()),
            HostCommand.overcommit(host));
      }
      farmCtl.output().print(ListHostsResponse.newBuilder().addAllHosts(hosts), table);
    }
  }
}
