package org.servicefarm.client.cli;

import java.util.List;
import org.servicefarm.api.v1.BundledService;
import org.servicefarm.api.v1.DeleteServiceResponse;
import org.servicefarm.api.v1.ListServiceDefinitionsResponse;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.FarmClient;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/** farmctl service: the catalog of service definitions the farm builds VMs from. */
@Command(
    name = "service",
   
    description = "Define services in the catalog, list the definitions, or delete one.",
    subcommands = {ServiceCommand.Define.class, ServiceCommand.ListDefinitions.class,
      ServiceCommand.Delete.class},
    footer = {
      "%nExample:",
      "  farmctl service define redis --packages redis-server --port 6379 --command redis-server",
    })
final class ServiceCommand {

  private ServiceCommand() {}

  @Command(
      name = "define",
     
      description = "Add or replace a service definition: what its VMs are built from and run.",
      footer = {
        "%nExamples:",
        "  farmctl service define static-web --packages nginx-light --port 80 \\",
        "      --command 'nginx -g \"daemon off;\"' --bundle metrics:9100",
        "  farmctl service define pg --image debian-pg16 --port 5432 --memory-mb 1024",
        "  farmctl service define web --image web-oci   (an OCI image: its entrypoint and ports)",
        "  farmctl service define api --image api-v3 --port 8080 --sleep-after 300 \\",
        "      --archive-after 86400 --min-active 1 --max-leases-per-vm 20 --max-instances 4",
        "  farmctl service define web --image web-v2 --port 80 --max-instances 12 \\",
        "      --constraint zone=a --spread-by rack --spread-hard",
      })
  static final class Define implements Runnable {

    @Parameters(paramLabel = "<name>", description = "The service's name.")
    private String name;

    @ArgGroup(exclusive = true, multiplicity = "1")
    private Source source;

    @Option(names = "--port", paramLabel = "N",
        description = {"TCP port the service listens on inside the VM; required, except with"
            + " an OCI image (--image of format oci), whose exposed ports are used when it is"
            + " not given."})
    private int port;

    @Option(names = "--vcpus", defaultValue = "1", paramLabel = "N",
        description = "Virtual CPUs per VM (default ${DEFAULT-VALUE}).")
    private int vcpus;

    @Option(names = "--memory-mb", defaultValue = "256", paramLabel = "MB",
        description = "Memory per VM in MiB (default ${DEFAULT-VALUE}).")
    private long memoryMb;

    @Option(names = "--command", paramLabel = "CMD",
        description = "What the guest's init starts (package-composed images).")
    private String command;

    @Option(names = "--bundle", paramLabel = "NAME:PORT", converter = BundleConverter.class,
        description = "A further service the same VM offers on its own port; repeatable.")
    private List<BundledService> bundled = List.of();

    @Option(names = "--sleep-after", defaultValue = "0", paramLabel = "SECONDS",
        description = "Put a VM with no live lease to sleep after this long unused (0: never).")
    private int sleepAfter;

    @Option(names = "--archive-after", defaultValue = "0", paramLabel = "SECONDS",
        description = "Archive a sleeping VM this long after its last use (0: never).")
    private int archiveAfter;

    @Option(names = "--delete-after", defaultValue = "0", paramLabel = "SECONDS",
        description = "Delete an archived VM this long after its last use (0: never).")
    private int deleteAfter;

    @Option(names = "--min-active", defaultValue = "0", paramLabel = "N",
        description = "VMs kept ACTIVE even with no lease: a warm pool (default 0).")
    private int minActive;

    @Option(names = "--max-leases-per-vm", defaultValue = "0", paramLabel = "N",
        description = "Leases a VM takes before requests start another VM (0: no limit).")
    private int maxLeasesPerVm;

    @Option(names = "--max-instances", defaultValue = "1", paramLabel = "N",
        description = "VMs the definition may run at most (default ${DEFAULT-VALUE}).")
    private int maxInstances;

    @Option(names = "--stateless",
        description = {"Its VMs keep nothing on their disks: a VM whose disk is lost (with no",
          "archive) is installed again from the image instead of failing."})
    private boolean stateless;

    @Option(names = "--priority", defaultValue = "0", paramLabel = "N",
        description = "When no host has room, idle VMs of this priority or lower are archived"
            + " to make room for this service's VMs (-1000 to 1000, default 0).")
    private int priority;

    @Option(names = "--preemptible",
        description = "A higher-priority request may archive this service's VMs even while"
            + " they are in use; their leases end with the reason.")
    private boolean preemptible;

    @Option(names = "--shared",
        description = {"Visible to every project, each of which gets VMs of its own (needs a",
          "farm-wide admin token)."})
    private boolean shared;

    @Option(names = "--constraint", paramLabel = "KEY=VALUE", converter = Labels.Converter.class,
        description = {"A host label its VMs' hosts must carry (zone=a); repeatable, every one",
          "must match."})
    private List<Labels.Label> constraints = new java.util.ArrayList<>();

    @Option(names = "--spread-by", paramLabel = "LABEL",
        description = {"Spread its VMs over the values of this host label (rack): each value's",
          "hosts hold within --max-skew VMs of the fewest."})
    private String spreadBy;

    @Option(names = "--spread-hard",
        description = {"Refuse a placement that would break the skew, instead of only",
          "preferring the hosts that keep it (soft, the default)."})
    private boolean spreadHard;

    @Option(names = "--max-skew", defaultValue = "1", paramLabel = "N",
        description = "How many more VMs one value may hold than the fewest (default 1).")
    private int maxSkew;

    @Spec
    private CommandSpec spec;

    /** Exactly one of packages or image, as the API requires. */
    static final class Source {
      @Option(names = "--packages", split = ",", paramLabel = "PKG",
          description = "Debian packages to compose the image from, comma-separated.")
      private List<String> packages;

      @Option(names = "--image", paramLabel = "NAME", description = "A registered or uploaded"
          + " image's name: a disk, or an OCI image (its layers over the farm's base layer).")
      private String image;
    }

    @Override
    public void run() {
      ServiceDefinition.Builder definition = ServiceDefinition.newBuilder()
          .setName(name)
          .setPort(port)
          .setVcpus(vcpus)
          .setMemoryMb(memoryMb)
          .addAllBundled(bundled)
          .setSleepAfterSeconds(sleepAfter)
          .setArchiveAfterSeconds(archiveAfter)
          .setDeleteAfterSeconds(deleteAfter)
          .setMinActive(minActive)
          .setMaxLeasesPerVm(maxLeasesPerVm)
          .setMaxInstances(maxInstances)
          .setStateless(stateless)
          .setShared(shared)
          .setPriority(priority)
          .setPreemptible(preemptible);
      if (source.packages != null) {
        definition.addAllPackages(source.packages);
      } else {
        definition.setImage(source.image);
      }
      if (command != null) {
        definition.setCommand(command);
      }
      placement(definition);
      FarmCtl farmCtl = FarmCtl.of(spec);
      try (FarmClient client = farmCtl.openClient()) {
        ServiceDefinition defined = client.defineService(definition.build());
        farmCtl.output().print(defined, table(List.of(defined)));
      }
    }

    private void placement(ServiceDefinition.Builder definition) {
      try {
        definition.putAllConstraints(Labels.toMap(constraints));
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), "--constraint: " + e.getMessage());
      }
      if (spreadBy == null) {
        if (spreadHard || spec.commandLine().getParseResult().hasMatchedOption("--max-skew")) {
          throw new ParameterException(spec.commandLine(),
              "--spread-hard and --max-skew need --spread-by");
        }
        return;
      }
      if (maxSkew < 1) {
        throw new ParameterException(spec.commandLine(),
            "--max-skew must be at least 1, got " + maxSkew);
      }
      definition.setSpreadBy(spreadBy).setSpreadHard(spreadHard).setSpreadMaxSkew(maxSkew);
    }
  }

  @Command(
      name = "list",
     
      description = "List the service definitions in the catalog.",
      footer = {"%nExample:", "  farmctl service list -o json"})
  static final class ListDefinitions implements Runnable {

    @Spec
    private CommandSpec spec;

    @Override
    public void run() {
      FarmCtl farmCtl = FarmCtl.of(spec);
      try (FarmClient client = farmCtl.openClient()) {
        List<ServiceDefinition> definitions = client.listServiceDefinitions();
        farmCtl.output().print(
            ListServiceDefinitionsResponse.newBuilder().addAllDefinitions(definitions),
            table(definitions));
      }
    }
  }

  @Command(
      name = "delete",
      description = {"Delete a service definition and the services it offers (bundled ones too);",
        "requests for them then fail, and `service define` may use the name again. Refused while",
        "the definition has VMs that are not deleted; --force deletes them too."},
      footer = {
        "%nExamples:",
        "  farmctl service delete redis",
        "  farmctl service delete redis --force -o json",
      })
  static final class Delete implements Runnable {

    @Parameters(paramLabel = "<name>", description = "The definition's name.")
    private String name;

    @Option(names = "--force",
        description = "Also delete the definition's VMs; leases on them end with them.")
    private boolean force;

    @Spec
    private CommandSpec spec;

    @Override
    public void run() {
      FarmCtl farmCtl = FarmCtl.of(spec);
      try (FarmClient client = farmCtl.openClient()) {
        DeleteServiceResponse deleted = client.deleteService(name, force);
        farmCtl.output().print(deleted, new Table("SERVICE", "DELETED", "DELETED_VMS")
            .row(deleted.getName(), "yes", Cells.list(deleted.getDeletedVmIdsList())));
      }
    }
  }

  static Table table(List<ServiceDefinition> definitions) {
    Table table = new Table("SERVICE", "SOURCE", "PORT", "VCPUS", "MEMORY_MB", "BUNDLED",
        "IDLE_LADDER", "INSTANCES", "PLACEMENT", "CREATED", "COMMAND");
    for (ServiceDefinition definition : definitions) {
      String source = definition.getImage().isEmpty()
          ? "packages:" + Cells.list(definition.getPackagesList())
          : "image:" + definition.getImage();
      List<String> bundled = definition.getBundledList().stream()
          .map(bundle -> bundle.getName() + ":" + bundle.getPort())
          .toList();
      table.row(definition.getName(), source, definition.getPort(), definition.getVcpus(),
          definition.getMemoryMb(), Cells.list(bundled), ladder(definition),
          instances(definition), placement(definition), Cells.time(definition.getCreatedAt()),
          Cells.text(definition.getCommand()));
    }
    return table;
  }

  /** "sleep 300s,archive 86400s,delete -": each rung of the idle ladder, "-" for never. */
  private static String ladder(ServiceDefinition d) {
    return "sleep " + Cells.seconds(d.getSleepAfterSeconds())
        + ",archive " + Cells.seconds(d.getArchiveAfterSeconds())
        + ",delete " + Cells.seconds(d.getDeleteAfterSeconds())
        + (d.getStateless() ? ",stateless" : "")
        + (d.getPriority() != 0 ? ",priority " + d.getPriority() : "")
        + (d.getPreemptible() ? ",preemptible" : "");
  }

  /** "zone=a,spread rack hard/1": the constraints, then the spread and its skew; "-": none. */
  private static String placement(ServiceDefinition d) {
    String constraints = d.getConstraintsCount() == 0 ? "" : Labels.cell(d.getConstraintsMap());
    String spread = d.getSpreadBy().isEmpty() ? "" : "spread " + d.getSpreadBy() + " "
        + (d.getSpreadHard() ? "hard" : "soft") + "/" + Math.max(1, d.getSpreadMaxSkew());
    String both = constraints + (constraints.isEmpty() || spread.isEmpty() ? "" : ",") + spread;
    return both.isEmpty() ? Cells.NONE : both;
  }

    /** "1-4,20/vm": at least min_active, at most max_instances, leases a VM takes ("-": any). */
  private static String instances(ServiceDefinition d) {
    int max = d.getMaxInstances() == 0 ? 1 : d.getMaxInstances();
    return d.getMinActive() + "-" + max + ","
        + (d.getMaxLeasesPerVm() == 0 ? Cells.NONE : String.valueOf(d.getMaxLeasesPerVm())) + "/vm";
  }

  /** Reads --bundle name:port. */
  static final class BundleConverter implements ITypeConverter<BundledService> {
    @Override
    public BundledService convert(String value) {
      int colon = value.lastIndexOf(':');
      String bad = "'" + value + "' is not name:port (e.g. metrics:9100)";
      if (colon <= 0 || colon == value.length() - 1) {
        throw new TypeConversionException(bad);
      }
      int port;
      try {
        port = Integer.parseInt(value.substring(colon + 1));
      } catch (NumberFormatException e) {
        throw new TypeConversionException(bad);
      }
      if (port < 1 || port > 65535) {
        throw new TypeConversionException("'" + value + "' has port " + port + ", outside 1-65535");
      }
      return BundledService.newBuilder().setName(value.substring(0, colon)).setPort(port).build();
    }
  }
}
