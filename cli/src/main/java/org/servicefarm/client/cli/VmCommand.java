package org.servicefarm.client.cli;

import java.util.List;
import java.util.function.BiFunction;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.client.FarmClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * farmctl vm: one VM, looked at or moved through its life. Each action only sets the VM's desired
 * state; the printed VM shows where it is now, and `vm get` shows where it got to.
 */
@Command(
    name = "vm",
   
    description = {"List VMs (as farmctl vms), or show, suspend, resume, archive, restore or",
      "delete one."},
    footer = {
      "%nExample:",
      "  farmctl vm suspend 3f2a9c1e",
    })
final class VmCommand {

  @Spec
  private CommandSpec spec;

  @Command(name = "get", description = "Show one VM.",
      footer = {"%nExample:", "  farmctl vm get 3f2a9c1e -o json"})
  void get(@Parameters(paramLabel = "<vm-id>", description = "The VM's id.") String vmId) {
    show(vmId, FarmClient::getVm);
  }

  @Command(name = "suspend",
      description = "Put the VM to sleep: its memory is saved to disk and leaves the host.",
      footer = {"%nExample:", "  farmctl vm suspend 3f2a9c1e"})
  void suspend(@Parameters(paramLabel = "<vm-id>", description = "The VM's id.") String vmId,
      @Option(names = "--force", description = {"Also when clients hold leases on the VM: they",
        "end, with this action as the reason (refused otherwise, exit 8)."}) boolean force) {
    show(vmId, (client, id) -> client.suspendVm(id, force));
  }

  @Command(name = "resume",
      description = "Wake a sleeping VM.",
      footer = {"%nExample:", "  farmctl vm resume 3f2a9c1e"})
  void resume(@Parameters(paramLabel = "<vm-id>", description = "The VM's id.") String vmId) {
    show(vmId, FarmClient::resumeVm);
  }

  @Command(name = "archive",
      description = "Move the VM's disk to the archive store and free its host's resources.",
      footer = {"%nExample:", "  farmctl vm archive 3f2a9c1e"})
  void archive(@Parameters(paramLabel = "<vm-id>", description = "The VM's id.") String vmId,
      @Option(names = "--force", description = {"Also when clients hold leases on the VM: they",
        "end, with this action as the reason (refused otherwise, exit 8)."}) boolean force) {
    show(vmId, (client, id) -> client.archiveVm(id, force));
  }

  @Command(name = "restore",
      description = "Bring an archived VM back, possibly on another host.",
      footer = {"%nExample:", "  farmctl vm restore 3f2a9c1e"})
  void restore(@Parameters(paramLabel = "<vm-id>", description = "The VM's id.") String vmId) {
    show(vmId, FarmClient::restoreVm);
  }

  @Command(name = "delete",
      description = "Remove the VM's domain and disks; its record stays as DELETED.",
      footer = {"%nExample:", "  farmctl vm delete 3f2a9c1e"})
  void delete(@Parameters(paramLabel = "<vm-id>", description = "The VM's id.") String vmId,
      @Option(names = "--force", description = {"Also when clients hold leases on the VM: they",
        "end, with this action as the reason (refused otherwise, exit 8)."}) boolean force) {
    show(vmId, (client, id) -> client.deleteVm(id, force));
  }

  private void show(String vmId, BiFunction<FarmClient, String, Vm> call) {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      Vm vm = call.apply(client, vmId);
      farmCtl.output().print(vm, VmsCommand.table(List.of(vm)));
    }
  }
}
