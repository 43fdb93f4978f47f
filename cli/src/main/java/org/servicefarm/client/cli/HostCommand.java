package org.servicefarm.client.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.servicefarm.api.v1.Host;
import org.servicefarm.client.FarmClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/** farmctl host: take a host out of service for maintenance, and back. */
@Command(
    name = "host",
    description = {"List hosts (as farmctl hosts), drain a host (move its VMs elsewhere, place",
      "nothing new on it) or uncordon it, label it or set its overcommit ratios."},
    footer = {
      "%nExample:",
      "  farmctl host drain sim-1",
      "  farmctl events --host sim-1 --follow",
      "  farmctl host label sim-1 zone=a rack=r1",
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

  @Command(name = "label",
      description = {"Set labels of a host that placement rules match (--constraint, --spread-by",
          "of farmctl service define); an admin's label wins over the one the host's agent",
          "reports for the same key. KEY- removes the admin's label of KEY."},
      footer = {"%nExamples:", "  farmctl host label sim-1 zone=a rack=r1",
          "  farmctl host label sim-1 rack-"})
  void label(@Parameters(index = "0", paramLabel = "<host-id>", description = "The host's id.")
      String hostId,
      @Parameters(index = "1..*", arity = "1..*", paramLabel = "KEY=VALUE|KEY-",
          description = "A label to set, or KEY- to remove one.") List<String> changes) {
    Map<String, String> set = new TreeMap<>();
    List<String> remove = new ArrayList<>();
    for (String change : changes) {
      if (change.endsWith("-") && !change.contains("=")) {
        remove.add(change.substring(0, change.length() - 1));
      } else {
        Labels.Label label;
        try {
          label = new Labels.Converter().convert(change);
        } catch (TypeConversionException e) {
          throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        if (set.put(label.key(), label.value()) != null) {
          throw new ParameterException(spec.commandLine(),
              "label " + label.key() + " is given twice");
        }
      }
    }
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      show(farmCtl, client.labelHost(hostId, set, remove));
    }
  }

  @Command(name = "overcommit",
      description = {"Set how many times its vCPUs and memory a host may promise to VMs",
          "(defaults: the controller's --cpu-overcommit, 4.0, and 1.0 for memory)."},
      footer = {"%nExamples:", "  farmctl host overcommit sim-1 --cpu 8 --memory 1.5",
          "  farmctl host overcommit sim-1 --reset"})
  void overcommit(@Parameters(paramLabel = "<host-id>", description = "The host's id.")
      String hostId,
      @Option(names = "--cpu", paramLabel = "RATIO", description = "vCPUs per core, 1 to 64.")
      Double cpu,
      @Option(names = "--memory", paramLabel = "RATIO",
          description = "Memory promised per MB the host has, 0.1 to 4.") Double memory,
      @Option(names = "--reset", description = "Back to the controller's defaults.")
      boolean reset) {
    if (reset == (cpu != null || memory != null)) {
      throw new ParameterException(spec.commandLine(),
          "give --cpu and/or --memory, or --reset alone");
    }
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      show(farmCtl, client.setHostOvercommit(hostId, cpu == null ? 0 : cpu,
          memory == null ? 0 : memory, reset));
    }
  }

  private static void show(FarmCtl farmCtl, Host host) {
    Table table = new Table("HOST", "STATUS", "ADDRESS", "VMS", "MEM_ALLOC_MB", "LABELS",
        "OVERCOMMIT")
        .row(host.getId(), Cells.status(host.getStatus()), Cells.text(host.getAddress()),
            host.getLoad().getVmCount(),
            String.format(Locale.ROOT, "%d/%d", host.getAllocatedMemoryMb(),
                host.getCapacity().getMemoryMb()),
            Labels.cell(host.getLabelsMap()), overcommit(host));
    farmCtl.output().print(host, table);
  }

  /** "cpu 8.0,mem 1.5" as an admin set them; "-" for a ratio on the controller's default. */
  static String overcommit(Host host) {
    String cpu = host.getCpuOvercommit() > 0
        ? String.format(Locale.ROOT, "cpu %.1f", host.getCpuOvercommit()) : "";
    String memory = host.getMemoryOvercommit() > 0
        ? String.format(Locale.ROOT, "mem %.1f", host.getMemoryOvercommit()) : "";
    String both = cpu + (cpu.isEmpty() || memory.isEmpty() ? "" : ",") + memory;
    return both.isEmpty() ? Cells.NONE : both;
  }
}
