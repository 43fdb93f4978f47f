package org.servicefarm.client.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.api.v1.Access;
import org.servicefarm.api.v1.ListVmsResponse;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmActionRequest;
import org.servicefarm.api.v1.VmState;

/** farmctl end to end against the fake farm: requests, leases, VMs, hosts, tokens, exit codes. */
class FarmCtlTest extends FarmCtlFixture {
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
  void vmGetForUnknownVmExitsThree() {
    Run run = farmctl("vm", "get", "vm-x");

    assertEquals(3, run.exitCode());
    assertEquals("farmctl: no VM vm-x", run.err().strip());
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
}
