package org.servicefarm.client.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import io.grpc.Status;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.api.v1.Access;
import org.servicefarm.api.v1.BundledService;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.HostCapacity;
import org.servicefarm.api.v1.HostLoad;
import org.servicefarm.api.v1.HostStatus;
import org.servicefarm.api.v1.ListVmsResponse;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmActionRequest;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FakeFarmServer;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;
import picocli.CommandLine;

/** farmctl end to end against the fake farm, through picocli as a shell would run it. */
class FarmCtlTest {

  private FakeFarmServer farm;
  private FarmClientOptions lastOptions;

  /** What a farmctl run left behind. */
  private record Run(int exitCode, String out, String err) {}

  @BeforeEach
  void startFarm() throws Exception {
    farm = new FakeFarmServer();
    farm.broker.answer("redis", RequestServiceResponse.newBuilder()
        .setVmId("vm-7")
        .setAccess(Access.newBuilder().setService("redis").setHost("10.0.0.5").setPort(40123))
        .setState(VmState.VM_STATE_ACTIVE)
        .setCreated(true)
        .build());
  }

  @AfterEach
  void stopFarm() {
    farm.close();
  }

  private Run farmctl(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    // Built as main builds it, with only the commands these arguments run.
    CommandLine commandLine = FarmCtl.commandLineFor(args, options -> {
      lastOptions = options;
      return new FarmClient(farm.channel(), options);
    });
    commandLine.setOut(new PrintWriter(out, true));
    commandLine.setErr(new PrintWriter(err, true));
    int exitCode = commandLine.execute(args);
    return new Run(exitCode, out.toString(), err.toString());
  }

  @Test
  void requestPrintsEndpointVmStateAndCreated() {
    Run run = farmctl("request", "redis");

    assertEquals(0, run.exitCode(), run.err());
    List<String> lines = run.out().lines().toList();
    assertEquals(List.of("ENDPOINT", "VM", "STATE", "CREATED", "LEASE", "EXPIRES", "GATEWAY"),
        words(lines.get(0)));
    assertEquals(List.of("10.0.0.5:40123", "vm-7", "ACTIVE", "yes", "-", "-", "-"),
        words(lines.get(1)));
  }

  @Test
  void requestPrintsTheLeaseAndSendsItsTtl() {
    farm.broker.answer("cache", RequestServiceResponse.newBuilder().setVmId("vm-8")
        .setAccess(Access.newBuilder().setService("cache").setHost("10.0.0.6").setPort(40124))
        .setState(VmState.VM_STATE_ACTIVE)
        .setLease(org.servicefarm.api.v1.Lease.newBuilder().setId("lease-9").setVmId("vm-8")
            .setService("cache").setTtlSeconds(120)
            .setExpiresAt(Timestamp.newBuilder().setSeconds(1_893_456_000L)))
        .build());

    Run run = farmctl("request", "cache", "--lease-ttl", "120");

    assertEquals(0, run.exitCode(), run.err());
    assertEquals(120, farm.broker.requests().get(0).getLeaseTtlSeconds());
    assertEquals(List.of("10.0.0.6:40124", "vm-8", "ACTIVE", "no", "lease-9",
        "2030-01-01T00:00:00Z", "-"), words(run.out().lines().toList().get(1)));
  }

  @Test
  void leaseRenewAndReleaseReachTheFarm() {
    Run renew = farmctl("lease", "renew", "lease-9", "--ttl", "300");
    Run release = farmctl("lease", "release", "lease-9");

    assertEquals(0, renew.exitCode(), renew.err());
    assertEquals(300, farm.broker.renewals().get(0).getTtlSeconds());
    assertEquals(List.of("lease-9", "vm-7", "redis"),
        words(renew.out().lines().toList().get(1)).subList(0, 3));
    assertEquals(0, release.exitCode(), release.err());
    assertEquals(List.of("lease-9"), farm.broker.releases());
  }

  @Test
  void vmsShowsLiveLeasesAndLastUse() {
    farm.admin.vms.add(vm("vm-1", VmState.VM_STATE_ACTIVE).toBuilder().setLeases(3)
        .setLastUsedAt(Timestamp.newBuilder().setSeconds(1_893_456_000L)).build());

    Run run = farmctl("vms");

    List<String> header = words(run.out().lines().toList().get(0));
    List<String> row = words(run.out().lines().toList().get(1));
    assertEquals("3", row.get(header.indexOf("LEASES")));
    assertEquals("2030-01-01T00:00:00Z", row.get(header.indexOf("LAST_USED")));
  }

  @Test
  void requestSendsTheIdempotencyKeyAndToken() {
    Run run = farmctl("request", "redis", "--idempotency-key", "deploy-42", "--token", "s3cret");

    assertEquals(0, run.exitCode(), run.err());
    assertEquals("deploy-42", farm.broker.requests().get(0).getIdempotencyKey());
    assertEquals(List.of("Bearer s3cret"), farm.authorizations());
  }

  @Test
  void aTokenFileIsReadAndSentWhenNoTokenIsGiven(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("admin.token");
    Files.writeString(file, "sf_fromfile\n");

    Run run = farmctl("--token-file", file.toString(), "request", "redis");

    assertEquals(0, run.exitCode(), run.err());
    assertEquals(List.of("Bearer sf_fromfile"), farm.authorizations());
  }

  @Test
  void aMissingTokenFileIsAUsageErrorNamingIt(@TempDir Path dir) {
    Path file = dir.resolve("nope.token");

    Run run = farmctl("--token-file", file.toString(), "request", "redis");

    assertEquals(2, run.exitCode());
    assertTrue(run.err().contains(file + " cannot be read: no such file"), run.err());
    assertEquals(List.of(), farm.authorizations(), "no call was made");
  }

  @Test
  void requestForUnknownServiceExitsThreeWithOneLineOnStderr() {
    Run run = farmctl("request", "memcached");

    assertEquals(3, run.exitCode());
    assertEquals("", run.out());
    assertEquals(List.of("farmctl: no service \"memcached\" is offered or defined"),
        run.err().lines().toList());
  }

  @Test
  void requestWithoutCapacityExitsFive() {
    farm.broker.refuse("bigdb", Status.RESOURCE_EXHAUSTED.withDescription("no host has room"));

    Run run = farmctl("request", "bigdb");

    assertEquals(5, run.exitCode());
    assertEquals("farmctl: no host has room", run.err().strip());
  }

  @Test
  void unavailableFarmExitsFourWithoutStackTrace() {
    farm.broker.faults.failNext(Status.UNAVAILABLE.withDescription("controller restarting"), 10);

    Run run = farmctl("request", "redis");

    assertEquals(4, run.exitCode());
    assertEquals(1, run.err().lines().count(), run.err());
    assertFalse(run.err().contains("\tat "), run.err());
  }

  @Test
  void vmsAsJsonParsesBackToEveryVmOnEveryPage() throws Exception {
    for (int i = 1; i <= 5; i++) {
      farm.admin.vms.add(vm("vm-" + i, VmState.VM_STATE_ACTIVE));
    }

    Run run = farmctl("vms", "-o", "json");

    assertEquals(0, run.exitCode(), run.err());
    ListVmsResponse.Builder parsed = ListVmsResponse.newBuilder();
    JsonFormat.parser().merge(run.out(), parsed);
    assertEquals(List.of("vm-1", "vm-2", "vm-3", "vm-4", "vm-5"),
        parsed.getVmsList().stream().map(Vm::getId).toList());
    assertEquals(farm.admin.vms.get(0), parsed.getVms(0));
  }

  @Test
  void vmsStateFilterAcceptsShortAndLongNamesInAnyCase() {
    farm.admin.vms.add(vm("awake", VmState.VM_STATE_ACTIVE));
    farm.admin.vms.add(vm("asleep", VmState.VM_STATE_SLEEPING));

    Run shortName = farmctl("vms", "--state", "sleeping");
    Run longName = farmctl("vms", "--state", "VM_STATE_SLEEPING");

    for (Run run : List.of(shortName, longName)) {
      assertEquals(0, run.exitCode(), run.err());
      List<String> lines = run.out().lines().toList();
      assertEquals(2, lines.size(), run.out());
      assertEquals("asleep", words(lines.get(1)).get(0));
    }
  }

  @Test
  void vmsWithUnknownStateExitsTwoListingTheValidStates() {
    Run run = farmctl("vms", "--state", "napping");

    assertEquals(2, run.exitCode());
    assertTrue(run.err().startsWith("farmctl: "), run.err());
    assertTrue(run.err().contains("'napping'"), run.err());
    assertTrue(run.err().contains("ACTIVE, SLEEPING"), run.err());
    assertEquals(1, run.err().lines().count(), run.err());
  }

  @Test
  void hostsPrintsAlignedColumnsUnderAHeader() {
    farm.admin.hosts.add(host("host-a", "10.0.0.5", 12.5));
    farm.admin.hosts.add(host("host-with-long-name", "10.0.0.6", 80));

    Run run = farmctl("hosts");

    assertEquals(0, run.exitCode(), run.err());
    List<String> lines = run.out().lines().toList();
    assertEquals(3, lines.size(), run.out());
    assertEquals("HOST", words(lines.get(0)).get(0));
    assertEquals(List.of("host-a", "UP", "10.0.0.5", "kvm", "12.5", "1024/8192", "512/16384",
        "2/8", "3", "yes", "2026-01-01T00:00:00Z", "-", "-"), words(lines.get(1)));
    // Aligned: every column starts at the same offset on every line.
    int statusColumn = lines.get(0).indexOf("STATUS");
    assertTrue(statusColumn > "host-with-long-name".length(), lines.get(0));
    for (String line : lines.subList(1, lines.size())) {
      assertEquals(' ', line.charAt(statusColumn - 1), line);
      assertTrue(line.substring(statusColumn).startsWith("UP"), line);
    }
  }

  @Test
  void vmSuspendSetsTheDesiredStateAndPrintsTheVm() {
    farm.admin.vms.add(vm("vm-1", VmState.VM_STATE_ACTIVE));

    Run run = farmctl("vm", "suspend", "vm-1");

    assertEquals(0, run.exitCode(), run.err());
    assertEquals(VmState.VM_STATE_SLEEPING, farm.admin.vms.get(0).getDesiredState());
    assertEquals(List.of("vm-1", "ACTIVE", "SLEEPING"),
        words(run.out().lines().toList().get(1)).subList(0, 3));
  }

  @Test
  void vmArchiveAsksForForceOnlyWhenTold() {
    farm.admin.vms.add(vm("vm-1", VmState.VM_STATE_ACTIVE));

    assertEquals(0, farmctl("vm", "archive", "vm-1").exitCode());
    assertEquals(0, farmctl("vm", "delete", "vm-1", "--force").exitCode());

    assertEquals(List.of(false, true),
        farm.admin.vmActions.stream().map(VmActionRequest::getForce).toList());
  }

  @Test
  void serviceDefineStatelessMarksTheDefinitionAndTheListingSaysSo() {
    Run run = farmctl("service", "define", "cache", "--packages", "redis-server", "--port",
        "6379", "--stateless");

    assertEquals(0, run.exitCode(), run.err());
    assertTrue(farm.admin.definitions.get(0).getStateless());
    assertTrue(run.out().contains(",stateless"), run.out());
  }

  @Test
  void vmGetForUnknownVmExitsThree() {
    Run run = farmctl("vm", "get", "vm-x");

    assertEquals(3, run.exitCode());
    assertEquals("farmctl: no VM vm-x", run.err().strip());
  }

  @Test
  void serviceDefineSendsTheDefinition() {
    Run run = farmctl("service", "define", "static-web", "--packages", "nginx-light,curl",
        "--port", "80", "--memory-mb", "512", "--bundle", "metrics:9100");

    assertEquals(0, run.exitCode(), run.err());
    ServiceDefinition sent = farm.admin.definitions.get(0);
    assertEquals(List.of("nginx-light", "curl"), sent.getPackagesList());
    assertEquals(80, sent.getPort());
    assertEquals(1, sent.getVcpus());
    assertEquals(512, sent.getMemoryMb());
    assertEquals(List.of(BundledService.newBuilder().setName("metrics").setPort(9100).build()),
        sent.getBundledList());
    assertEquals(1, sent.getMaxInstances(), "one VM unless told otherwise");
  }

  @Test
  void serviceDeleteOfADefinitionWithVmsExitsEightAndForcePrintsTheDeletedVms() {
    farm.admin.definitions.add(ServiceDefinition.newBuilder().setName("redis").build());
    farm.admin.vms.add(vm("vm-1", VmState.VM_STATE_ACTIVE).toBuilder().addServices("redis").build());

    Run refused = farmctl("service", "delete", "redis");
    Run forced = farmctl("service", "delete", "redis", "--force");

    assertEquals(8, refused.exitCode(), refused.err());
    assertEquals(1, refused.err().lines().count(), refused.err());
    assertTrue(refused.err().contains("definition 'redis' has VMs [vm-1]"), refused.err());
    assertEquals(0, forced.exitCode(), forced.err());
    assertEquals(List.of("SERVICE  DELETED  DELETED_VMS", "redis    yes      vm-1"),
        forced.out().lines().toList());
  }

  @Test
  void serviceDefineSendsTheIdleLadderAndInstanceLimits() {
    Run run = farmctl("service", "define", "api", "--image", "api-v3", "--port", "8080",
        "--sleep-after", "300", "--archive-after", "86400", "--delete-after", "604800",
        "--min-active", "1", "--max-leases-per-vm", "20", "--max-instances", "4");

    assertEquals(0, run.exitCode(), run.err());
    ServiceDefinition sent = farm.admin.definitions.get(0);
    assertEquals(List.of(300, 86400, 604800, 1, 20, 4), List.of(sent.getSleepAfterSeconds(),
        sent.getArchiveAfterSeconds(), sent.getDeleteAfterSeconds(), sent.getMinActive(),
        sent.getMaxLeasesPerVm(), sent.getMaxInstances()));
  }

  @Test
  void serviceDefineOfAnImageWithoutPortLeavesPortAndCommandToTheImage() {
    Run run = farmctl("service", "define", "web", "--image", "web-oci");

    assertEquals(0, run.exitCode(), run.err());
    ServiceDefinition sent = farm.admin.definitions.get(0);
    assertEquals("web-oci", sent.getImage());
    assertEquals(0, sent.getPort(), "an OCI image's exposed port is the controller's to fill in");
    assertEquals("", sent.getCommand());
  }

  @Test
  void serviceDefineWithPackagesAndImageIsAUsageError() {
    Run run = farmctl("service", "define", "x", "--packages", "a", "--image", "b", "--port", "1");

    assertEquals(2, run.exitCode());
    assertTrue(farm.admin.definitions.isEmpty());
    assertTrue(run.err().contains("mutually exclusive"), run.err());
  }

  @Test
  void badTargetIsAUsageErrorNamingIt() {
    Run run = farmctl("hosts", "--target", "nowhere");

    assertEquals(2, run.exitCode());
    assertTrue(run.err().contains("\"nowhere\""), run.err());
  }

  @Test
  void targetOptionReachesTheClientOptions() {
    Run run = farmctl("--target", "10.1.2.3:6000", "hosts", "--plaintext");

    assertEquals(0, run.exitCode(), run.err());
    assertEquals("10.1.2.3:6000", lastOptions.target());
    assertTrue(lastOptions.usesPlaintext());
  }

  @Test
  void imageRegisterAnswersTheCatalogEntry() {
    Run run = farmctl("image", "register", "pg16", "--path", "/srv/images/pg16.qcow2",
        "--size", "1048576", "-o", "json");

    assertEquals(0, run.exitCode(), run.err());
    assertEquals("qcow2", farm.admin.images.get(0).getFormat());
    assertEquals("/srv/images/pg16.qcow2", farm.admin.images.get(0).getSourcePath());
    assertTrue(run.out().contains("\"sizeBytes\": \"1048576\""), run.out());
  }

  @Test
  void imageGcDryRunShowsWhatWouldGoAndWhatItFrees() {
    Run run = farmctl("image", "gc", "--dry-run");

    assertEquals(0, run.exitCode(), run.err());
    assertEquals(Boolean.TRUE, farm.admin.lastCollectDryRun);
    assertTrue(run.out().contains("ab".repeat(32)), run.out());
    assertTrue(run.out().contains("would remove 1 blobs, 4096 bytes"), run.out());
  }

  private static List<String> words(String line) {
    return List.of(line.trim().split("\\s+"));
  }

  private static Vm vm(String id, VmState state) {
    return Vm.newBuilder().setId(id).setState(state).setDesiredState(state).setHostId("host-a")
        .setDefinition("redis").addServices("redis")
        .addAccess(Access.newBuilder().setService("redis").setHost("10.0.0.5").setPort(40000))
        .build();
  }

  private static Host host(String id, String address, double cpuPercent) {
    return Host.newBuilder().setId(id).setStatus(HostStatus.HOST_STATUS_UP).setAddress(address)
        .setHypervisor("kvm").setConnected(true)
        .setCapacity(HostCapacity.newBuilder().setVcpus(8).setMemoryMb(16384).setDiskMb(100_000))
        .setLoad(HostLoad.newBuilder().setCpuPercent(cpuPercent).setMemoryUsedMb(1024)
            .setMemoryTotalMb(8192).setVmCount(3))
        .setAllocatedVcpus(2).setAllocatedMemoryMb(512)
        .setLastReportAt(Timestamp.newBuilder().setSeconds(1_767_225_600))
        .build();
  }
}
