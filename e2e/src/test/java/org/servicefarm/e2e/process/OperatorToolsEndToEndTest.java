package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.servicefarm.api.v1.Access;
import org.servicefarm.api.v1.DeleteServiceResponse;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.HostStatus;
import org.servicefarm.api.v1.Lease;
import org.servicefarm.api.v1.ListHostsResponse;
import org.servicefarm.api.v1.ListServicesResponse;
import org.servicefarm.api.v1.ListVmsResponse;
import org.servicefarm.api.v1.OfferedService;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.e2e.support.FarmCtlProcess.Run;
import org.servicefarm.e2e.support.FarmCtlProcess;
import org.servicefarm.e2e.support.ProcessFarm;

/**
 * The operator's tools against a farm of real processes (controller, one agent on libvirt's test
 * driver): the built farmctl.jar as a shell runs it, the README's SDK example program, and the
 * gRPC reflection grpcurl relies on. One farm for all three: starting one takes most of the time.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class OperatorToolsEndToEndTest {
  private static final String HOST = "host-a";
  private static final String SERVICE = "cli-web";
  private static ProcessFarm farm;
  private static FarmCtlProcess farmctl;
  /** What `farmctl request` answered; later steps look at its VM and lease. */
  private static RequestServiceResponse requested;

  @BeforeAll
  static void startFarm() throws Exception {
    farm = new ProcessFarm("test:///default");
    farm.startController();
    farm.startAgent(HOST);
    farm.awaitConnected(List.of(HOST));
    farmctl = new FarmCtlProcess(farm.target(), farm.adminTokenFile(), farm.dir().resolve("ctl"));
  }

  @AfterAll
  static void stopFarm() {
    if (farm != null) {
      farm.close();
    }
  }

  @Test
  @Order(1)
  void farmctlDefinesAServiceAndRequestsIt() throws Exception {
    Run define = ok(farmctl.run("service", "define", SERVICE, "--packages", "busybox",
        "--port", "80", "--command", "busybox httpd -f -p 80"));
    assertEquals("SERVICE", words(define.lines().get(0)).get(0), define.describe());
    assertEquals(SERVICE, words(define.lines().get(1)).get(0), define.describe());

    Run request = ok(farmctl.run("request", SERVICE, "--lease-ttl", "600", "-o", "json"));

    requested = parse(request, RequestServiceResponse.newBuilder());
    assertTrue(requested.getCreated(), request.describe());
    assertEquals(VmState.VM_STATE_ACTIVE, requested.getState());
    assertEquals(600, requested.getLease().getTtlSeconds());
    Vm vm = farm.client().getVm(requested.getVmId());
    assertEquals(requested.getAccess(), vm.getAccess(0), "the endpoint the farm recorded");
  }

  @Test
  @Order(2)
  void servicesListsTheServiceAsOfferedByTheVm() throws Exception {
    Run table = ok(farmctl.run("services"));
    assertEquals(List.of("SERVICE", "AVAILABILITY", "GATEWAY", "DEFINITION", "ACTIVE",
        "SLEEPING", "ARCHIVED", "VMS"), words(table.lines().get(0)));
    assertEquals(List.of(SERVICE, "offered", requested.getGatewayAddress(), SERVICE, "1", "0",
        "0", requested.getVmId()), row(table, SERVICE));
    assertTrue(requested.getGatewayAddress().matches("127\\.0\\.0\\.1:3\\d{4}"),
        "the request's answer names the service's gateway address: "
            + requested.getGatewayAddress());

    ListServicesResponse json =
        parse(ok(farmctl.run("services", "-o", "json")), ListServicesResponse.newBuilder());
    OfferedService offered = json.getOfferedList().stream()
        .filter(s -> s.getName().equals(SERVICE)).findFirst().orElseThrow();
    assertEquals(List.of(requested.getVmId()), offered.getVmIdsList());
  }

  @Test
  @Order(3)
  void vmsAndVmListShowTheVmWithItsEndpointAndLease() throws Exception {
    for (List<String> command : List.of(List.of("vms"), List.of("vm", "list"))) {
      Run table = ok(farmctl.run(command.toArray(String[]::new)));
      List<String> header = words(table.lines().get(0));
      assertEquals(List.of("VM", "STATE", "DESIRED", "HOST", "SERVICES", "ENDPOINTS", "LEASES",
          "LAST_USED", "CREATED", "FAILURE"), header);
      List<String> row = row(table, requested.getVmId());
      assertEquals(List.of("ACTIVE", "ACTIVE", HOST, SERVICE, SERVICE + "=" + endpoint(), "1"),
          row.subList(1, 7), table.describe());
    }

    ListVmsResponse json = parse(ok(farmctl.run("vm", "list", "--service", SERVICE, "-o",
        "json")), ListVmsResponse.newBuilder());
    assertEquals(1, json.getVmsCount(), json.toString());
    Vm vm = json.getVms(0);
    assertEquals(requested.getVmId(), vm.getId());
    assertEquals(HOST, vm.getHostId());
    assertEquals(requested.getAccess(), vm.getAccess(0));
    assertEquals(1, vm.getLeases());
  }

  @Test
  @Order(4)
  void hostsAndHostListShowTheAgentsHostCarryingTheVm() throws Exception {
    for (List<String> command : List.of(List.of("hosts"), List.of("host", "list"))) {
      Run table = ok(farmctl.run(command.toArray(String[]::new)));
      assertEquals(List.of("HOST", "STATUS", "ADDRESS", "HYPERVISOR", "CPU%", "MEM_USED_MB",
          "MEM_ALLOC_MB", "VCPU_ALLOC", "VMS", "CONNECTED", "LAST_REPORT", "LABELS", "OVERCOMMIT"),
          words(table.lines().get(0)));
      List<String> row = row(table, HOST);
      assertEquals("UP", row.get(1), table.describe());
      assertEquals("yes", row.get(9), table.describe());
    }

    ListHostsResponse json =
        parse(ok(farmctl.run("host", "list", "-o", "json")), ListHostsResponse.newBuilder());
    Host host = json.getHostsList().stream().filter(h -> h.getId().equals(HOST)).findFirst()
        .orElseThrow();
    assertEquals(HostStatus.HOST_STATUS_UP, host.getStatus());
    assertTrue(host.getConnected());
    assertEquals(8192, host.getCapacity().getMemoryMb());
    assertTrue(host.getAllocatedMemoryMb() >= 256, "the VM's memory is allocated: " + host);
  }

  @Test
  @Order(5)
  void theReadmeExampleProgramPrintsTheEndpointTheFarmHandsOutAndReleases() throws Exception {
    String token = Files.readString(farm.adminTokenFile()).strip();
    Path out = farm.dir().resolve("example.out");
    ProcessBuilder example = new ProcessBuilder(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"),
        "org.servicefarm.examples.HoldServiceExample", SERVICE)
        .redirectErrorStream(true)
        .redirectOutput(out.toFile());
    example.environment().putAll(Map.of("FARM_TARGET", farm.target(), "FARM_TOKEN", token));

    Process run = example.start();

    assertTrue(run.waitFor(120, TimeUnit.SECONDS), "the example still runs after 120 s");
    assertEquals(0, run.exitValue(), Files.readString(out));
    assertEquals(SERVICE + " at " + endpoint(), Files.readString(out).strip());
    assertEquals(1, farm.client().getVm(requested.getVmId()).getLeases(),
        "the example released its lease; farmctl's remains");
  }

  @Test
  @Order(6)
  void leaseRenewExtendsAndReleaseEndsTheLease() throws Exception {
    String leaseId = requested.getLease().getId();

    Lease renewed = parse(ok(farmctl.run("lease", "renew", leaseId, "--ttl", "120", "-o",
        "json")), Lease.newBuilder());
    assertEquals(leaseId, renewed.getId());
    assertEquals(120, renewed.getTtlSeconds());

    Run release = ok(farmctl.run("lease", "release", leaseId));
    assertEquals(List.of(leaseId, "yes"), words(release.lines().get(1)));
    Vm vm = parse(ok(farmctl.run("vm", "get", requested.getVmId(), "-o", "json")),
        Vm.newBuilder());
    assertEquals(0, vm.getLeases(), "no live lease after release");
  }

  @Test
  @Order(7)
  void vmSuspendPutsTheVmToSleepAndResumeWakesIt() throws Exception {
    String vmId = requested.getVmId();

    Run suspend = ok(farmctl.run("vm", "suspend", vmId));
    assertEquals("SLEEPING", row(suspend, vmId).get(2), "desired state");
    awaitState(vmId, VmState.VM_STATE_SLEEPING);
    assertEquals("SLEEPING", row(ok(farmctl.run("vm", "get", vmId)), vmId).get(1));

    Run resume = ok(farmctl.run("vm", "resume", vmId));
    assertEquals("ACTIVE", row(resume, vmId).get(2), "desired state");
    awaitState(vmId, VmState.VM_STATE_ACTIVE);
    Vm vm = parse(ok(farmctl.run("vm", "get", vmId, "-o", "json")), Vm.newBuilder());
    assertEquals(VmState.VM_STATE_ACTIVE, vm.getState());
  }

  @Test
  @Order(8)
  void vmGetOfAMissingVmExitsThreeWithOneLine() throws Exception {
    String missing = UUID.randomUUID().toString();

    Run run = farmctl.run("vm", "get", missing);

    assertEquals(3, run.exitCode(), run.describe());
    assertEquals(1, run.err().lines().count(), run.describe());
    assertTrue(run.err().startsWith("farmctl: ") && run.err().contains(missing), run.describe());
    assertEquals("", run.out());
  }

  @Test
  @Order(9)
  void reflectionServesEveryDeclaredServiceAndEveryMessageItsMethodsUse() throws Exception {
    List<ServiceDescriptor> declared = DeclaredApi.services();
    ManagedChannel channel =
        Grpc.newChannelBuilder(farm.target(), InsecureChannelCredentials.create()).build();
    try {
      ReflectedSchema reflected = new ReflectedSchema(channel);
      List<String> listed = reflected.listServices();
      List<String> problems = new ArrayList<>();
      for (ServiceDescriptor service : declared) {
        if (!listed.contains(service.getFullName())) {
          problems.add(service.getFullName() + " is not listed");
          continue;
        }
        ServiceDescriptor served = reflected.fileContaining(service.getFullName())
            .findServiceByName(service.getName());
        for (MethodDescriptor method : service.getMethods()) {
          MethodDescriptor servedMethod = served.findMethodByName(method.getName());
          if (servedMethod == null) {
            problems.add(method.getFullName() + " is missing");
          } else if (!servedMethod.toProto().equals(method.toProto())) {
            problems.add(method.getFullName() + " differs: " + servedMethod.toProto());
          } else {
            Set<String> seen = new HashSet<>();
            sameMessages(method.getInputType(), servedMethod.getInputType(), seen, problems);
            sameMessages(method.getOutputType(), servedMethod.getOutputType(), seen, problems);
          }
        }
      }
      assertTrue(declared.size() >= 5, "declared services: " + declared);
      assertEquals(List.of(), problems, "what reflection serves differs from the .proto files");
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  @Order(10)
  void serviceDeleteRefusesADefinitionWithVmsExceptWithForce() throws Exception {
    ok(farmctl.run("service", "define", "cli-unused", "--packages", "busybox", "--port", "80"));
    Run unused = ok(farmctl.run("service", "delete", "cli-unused"));
    assertEquals(List.of("SERVICE", "DELETED", "DELETED_VMS"), words(unused.lines().get(0)));
    assertEquals(List.of("cli-unused", "yes", "-"), row(unused, "cli-unused"));

    Run refused = farmctl.run("service", "delete", SERVICE);
    assertEquals(8, refused.exitCode(), refused.describe());
    assertTrue(refused.err().contains(requested.getVmId()), refused.describe());

    DeleteServiceResponse forced = parse(ok(farmctl.run("service", "delete", SERVICE, "--force",
        "-o", "json")), DeleteServiceResponse.newBuilder());
    assertEquals(List.of(requested.getVmId()), forced.getDeletedVmIdsList());
    assertEquals(3, farmctl.run("service", "delete", SERVICE).exitCode(), "already deleted");
  }

  @Test
  @Order(11)
  void auditNamesTheTokenBehindEachChangeAndFiltersByTarget() throws Exception {
    Run all = ok(farmctl.run("audit", "--caller", "bootstrap-admin"));
    assertEquals(List.of("ID", "AT", "CALLER", "PEER", "METHOD", "TARGET", "OUTCOME", "CALLS",
        "DETAIL"), words(all.lines().get(0)));
    assertTrue(all.lines().stream().anyMatch(l -> l.contains("FarmAdmin/DefineService")
        && l.contains(SERVICE) && l.contains("bootstrap-admin")), all.describe());

    Run onVm = ok(farmctl.run("audit", "--on", requested.getVmId(), "-o", "json"));
    List<String> methods = new java.util.ArrayList<>();
    for (String line : onVm.lines()) {
      org.servicefarm.api.v1.AuditRecord.Builder record = org.servicefarm.api.v1.AuditRecord.newBuilder();
      JsonFormat.parser().merge(line, record);
      methods.add(record.getMethod());
    }
    assertEquals(List.of("servicefarm.v1.FarmAdmin/SuspendVm", "servicefarm.v1.FarmAdmin/ResumeVm"),
        methods, onVm.describe());
  }

  /** The message as reflection built it equals the generated one, and so do its field types. */
  private static void sameMessages(Descriptor declared, Descriptor served, Set<String> seen,
      List<String> problems) {
    if (!seen.add(declared.getFullName())) {
      return;
    }
    if (!served.toProto().equals(declared.toProto())) {
      problems.add(declared.getFullName() + " differs: " + served.toProto());
      return;
    }
    for (FieldDescriptor field : declared.getFields()) {
      if (field.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
        sameMessages(field.getMessageType(),
            served.findFieldByNumber(field.getNumber()).getMessageType(), seen, problems);
      }
    }
  }

  private static Run ok(Run run) {
    assertEquals(0, run.exitCode(), run.describe());
    return run;
  }

  @SuppressWarnings("unchecked")
  private static <T extends Message> T parse(Run run, Message.Builder builder)
      throws IOException {
    JsonFormat.parser().merge(run.out(), builder);
    return (T) builder.build();
  }

  private static List<String> words(String line) {
    return List.of(line.trim().split("\\s+"));
  }

  /** The table row whose first cell is {@code first}. */
  private static List<String> row(Run table, String first) {
    return table.lines().stream().map(OperatorToolsEndToEndTest::words)
        .filter(cells -> cells.get(0).equals(first)).findFirst()
        .orElseThrow(() -> new AssertionError("no row " + first + "\n" + table.describe()));
  }

  private static String endpoint() {
    Access access = requested.getAccess();
    return access.getHost() + ":" + access.getPort();
  }

  private static void awaitState(String vmId, VmState state) {
    farm.awaitTrue("VM " + vmId + " " + state, Duration.ofSeconds(60),
        () -> farm.client().getVm(vmId).getState() == state);
  }

  @Test
  @Order(12)
  void theLauncherPrintsWhatTheJarPrintsAndKeepsAClassArchiveForTheNextRun() throws Exception {
    Path cache = farm.dir().resolve("farmctl-cache");
    Run direct = ok(farmctl.run("services"));

    Run first = ok(farmctl.runLauncher(cache, "services"));
    List<Path> archives;
    try (var files = Files.list(cache)) {
      archives = files.filter(f -> f.getFileName().toString().endsWith(".jsa")).toList();
    }
    Run second = ok(farmctl.runLauncher(cache, "services"));

    assertEquals(direct.out(), first.out(), first.describe());
    assertEquals(1, archives.size(), "one class-data archive in " + cache + ": " + archives);
    assertEquals(direct.out(), second.out(), second.describe());
    assertEquals("", first.err() + second.err(), "the launcher and the JVM print nothing else");
  }
}
