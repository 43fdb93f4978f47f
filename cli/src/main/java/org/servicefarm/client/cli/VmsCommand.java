package org.servicefarm.client.cli;

import java.util.List;
import java.util.stream.Collectors;
import org.servicefarm.api.v1.Access;
import org.servicefarm.api.v1.ListVmsResponse;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.VmFilter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** farmctl vms, also farmctl vm list: every VM, or those matching the filters, across all pages. */
@Command(
    name = "vms",
   
    description = "List VMs; filters combine, each left out matches all.",
    footer = {
      "%nExample:",
      "  ${COMMAND-FULL-NAME} --state sleeping --service redis",
    })
final class VmsCommand implements Runnable {

  @Option(names = "--state", paramLabel = "STATE", converter = VmStateConverter.class,
      description = "Only VMs in this state: ACTIVE or VM_STATE_ACTIVE, any case.")
  private VmState state;

  @Option(names = "--host", paramLabel = "HOST_ID", description = "Only VMs on this host.")
  private String hostId;

  @Option(names = "--service", paramLabel = "NAME", description = "Only VMs offering this service.")
  private String service;

  @Spec
  private CommandSpec spec;

  @Override
  public void run() {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      List<Vm> vms = client.listVms(new VmFilter(state, hostId, service));
      // All pages in one document: scripts should not have to follow page tokens.
      farmCtl.output().print(ListVmsResponse.newBuilder().addAllVms(vms), table(vms));
    }
  }

  /** The VM table, shared with the vm subcommands so a VM looks the same everywhere. */
  static Table table(List<Vm> vms) {
    Table table = new Table("VM", "STATE", "DESIRED", "HOST", "SERVICES", "ENDPOINTS", "LEASES",
        "LAST_USED", "CREATED", "FAILURE");
    for (Vm vm : vms) {
      table.row(vm.getId(), Cells.state(vm.getState()), Cells.state(vm.getDesiredState()),
          Cells.text(vm.getHostId()), Cells.list(vm.getServicesList()), endpoints(vm),
          vm.getLeases(), Cells.time(vm.getLastUsedAt()), Cells.time(vm.getCreatedAt()),
          Cells.text(vm.getFailureReason()));
    }
    return table;
  }

  private static String endpoints(Vm vm) {
    return Cells.list(vm.getAccessList().stream()
        .map(VmsCommand::endpoint)
        .collect(Collectors.toList()));
  }

  private static String endpoint(Access access) {
    String host = access.getHost().contains(":") ? "[" + access.getHost() + "]" : access.getHost();
    return access.getService() + "=" + host + ":" + access.getPort();
  }
}
