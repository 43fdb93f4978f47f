package org.servicefarm.client.cli;

import java.util.List;
import org.servicefarm.api.v1.ListProjectsResponse;
import org.servicefarm.api.v1.Project;
import org.servicefarm.api.v1.ProjectQuota;
import org.servicefarm.client.FarmClient;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** farmctl project: the teams sharing a farm, their quotas and what each holds. */
@Command(
    name = "project",
    description = {"Create, list and delete projects; set and read their quotas and reservations.",
        "Creating, deleting and setting quotas need a farm-wide admin token."},
    footer = {
      "%nExample:",
      "  farmctl project create team-a --vcpus 32 --memory-mb 65536 --vms 40",
      "  farmctl --project team-a token create --name team-a-ci --role client",
      "  farmctl project usage team-a",
    })
final class ProjectCommand {

  @Spec
  private CommandSpec spec;

  /** The limits a command sets; "none" removes one. */
  static final class Limits {
    @Option(names = "--vcpus", paramLabel = "N|none",
        description = "vCPUs of the VMs wanted running or asleep.")
    String vcpus;

    @Option(names = "--memory-mb", paramLabel = "MB|none",
        description = "Memory of the VMs wanted running or asleep.")
    String memoryMb;

    @Option(names = "--vms", paramLabel = "N|none",
        description = "VMs wanted running or asleep (archived ones do not count).")
    String vms;

    @Option(names = "--stored-bytes", paramLabel = "BYTES|none",
        description = "Bytes of the project's images.")
    String storedBytes;

    ProjectQuota quota(CommandSpec spec) {
      ProjectQuota.Builder q = ProjectQuota.newBuilder();
      if (vcpus != null) {
        q.setVcpus((int) Math.min(Integer.MAX_VALUE, limit(spec, "--vcpus", vcpus)));
      }
      if (memoryMb != null) {
        q.setMemoryMb(limit(spec, "--memory-mb", memoryMb));
      }
      if (vms != null) {
        q.setVms((int) Math.min(Integer.MAX_VALUE, limit(spec, "--vms", vms)));
      }
      if (storedBytes != null) {
        q.setStoredBytes(limit(spec, "--stored-bytes", storedBytes));
      }
      return q.build();
    }

    private static long limit(CommandSpec spec, String option, String value) {
      if (value.equals("none")) {
        return -1;
      }
      try {
        long n = Long.parseLong(value);
        if (n >= 0) {
          return n;
        }
      } catch (NumberFormatException notANumber) {
        // Reported below, naming the option and the value.
      }
      throw new picocli.CommandLine.ParameterException(spec.commandLine(),
          option + ": '" + value + "' is neither a number of at least 0 nor 'none'");
    }
  }

  @Command(name = "create", description = "Create a project, with limits if given.",
      footer = {"%nExample:", "  farmctl project create team-a --vcpus 32 --vms 40"})
  void create(@Parameters(paramLabel = "NAME",
          description = "1 to 63 of a-z, 0-9 and '-'.") String name,
      @ArgGroup(exclusive = false) Limits limits) {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      Project created = client.projects().create(name,
          limits == null ? ProjectQuota.getDefaultInstance() : limits.quota(spec));
      farmCtl.output().print(created, table(List.of(created)));
    }
  }

  @Command(name = "list", description = "List the projects this token sees, with their usage.",
      footer = {"%nExample:", "  farmctl project list"})
  void list() {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      List<Project> projects = client.projects().list();
      farmCtl.output().print(ListProjectsResponse.newBuilder().addAllProjects(projects).build(),
          table(projects));
    }
  }

  @Command(name = "delete",
      description = "Delete a project that holds no definitions, VMs or live tokens.",
      footer = {"%nExample:", "  farmctl project delete team-a"})
  void delete(@Parameters(paramLabel = "NAME") String name) {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      Project deleted = client.projects().delete(name);
      farmCtl.output().print(deleted, table(List.of(deleted)));
    }
  }

  @Command(name = "quota",
      description = {"Set limits of a project; 'none' removes one, the others stay.",
          "Takes effect at the next request, on every controller."},
      footer = {"%nExample:", "  farmctl project quota team-a --vms 60 --memory-mb none"})
  void quota(@Parameters(paramLabel = "NAME") String name,
      @ArgGroup(exclusive = false, multiplicity = "1") Limits limits) {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      Project changed = client.projects().setQuota(name, limits.quota(spec));
      farmCtl.output().print(changed, table(List.of(changed)));
    }
  }

  @Command(name = "reserve",
      description = {"Keep capacity for a project: other projects' placements treat its unused"
          + " part as taken, and room made for them never archives the project's VMs counted in"
          + " it.", "Zeros remove the reservation. Takes effect at the next placement."},
      footer = {"%nExample:", "  farmctl project reserve team-a --vcpus 8 --memory-mb 16384"})
  void reserve(@Parameters(paramLabel = "NAME") String name,
      @Option(names = "--vcpus", defaultValue = "0", paramLabel = "N",
          description = "vCPUs kept for the project (default 0).") int vcpus,
      @Option(names = "--memory-mb", defaultValue = "0", paramLabel = "MB",
          description = "Memory kept for the project, in MB (default 0).") long memoryMb) {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      Project changed = client.projects().reserve(name, vcpus, memoryMb);
      farmCtl.output().print(changed, table(List.of(changed)));
    }
  }

  @Command(name = "usage",
      description = "What a project holds against its quota (default: the token's project).",
      footer = {"%nExample:", "  farmctl project usage team-a"})
  void usage(@Parameters(paramLabel = "NAME", arity = "0..1", defaultValue = "") String name) {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      Project project = client.projects().usage(name);
      farmCtl.output().print(project, table(List.of(project)));
    }
  }

  private static Table table(List<Project> projects) {
    Table table = new Table("NAME", "VCPUS", "MEMORY_MB", "VMS", "STORED_BYTES", "RESERVED",
        "CREATED");
    for (Project p : projects) {
      ProjectQuota q = p.getQuota();
      table.row(p.getName(),
          used(p.getUsage().getVcpus(), q.hasVcpus(), q.getVcpus()),
          used(p.getUsage().getMemoryMb(), q.hasMemoryMb(), q.getMemoryMb()),
          used(p.getUsage().getVms(), q.hasVms(), q.getVms()),
          used(p.getUsage().getStoredBytes(), q.hasStoredBytes(), q.getStoredBytes()),
          reserved(p),
          Cells.time(p.getCreatedAt()));
    }
    return table;
  }

  /** "8 vCPUs,16384 MB" kept for the project, or "-" for none. */
  private static String reserved(Project p) {
    return p.getReservation().getVcpus() == 0 && p.getReservation().getMemoryMb() == 0 ? "-"
        : p.getReservation().getVcpus() + " vCPUs," + p.getReservation().getMemoryMb() + " MB";
  }

  /** "usage/limit", or the usage alone when there is no limit. */
  private static String used(long usage, boolean limited, long limit) {
    return limited ? usage + "/" + limit : Long.toString(usage);
  }
}
