package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.AuditRecord;
import org.servicefarm.api.v1.RegisterImageRequest;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.PermissionDeniedException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * The audit trail on the controller's real interceptors: every call that changes the farm leaves
 * exactly one record naming the token that made it, a refused call leaves one with its code, and
 * reading the trail is for admins only.
 */
class AuditTrailIntegrationTest {
  private static InProcessFarm farm;
  private static FarmClient admin;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    admin = farm.client();
    farm.addHost("audit-1", 8, 8192);
    farm.awaitConnected(List.of("audit-1"));
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  /** One mutating call, what the test expects of its record, and the code the caller got. */
  private record Expected(String method, String target, String outcome) {}

  private static String call(List<Expected> expected, String method, String target,
      Supplier<?> action) {
    String outcome = "OK";
    try {
      action.get();
    } catch (FarmException e) {
      outcome = e.code().name();
    }
    expected.add(new Expected(method, target, outcome));
    return outcome;
  }

  @Test
  void everyCallThatChangesTheFarmLeavesExactlyOneRecordNamingItsToken() throws Exception {
    FarmClient operator = farm.clientWithToken(admin.tokens().create("operator", "admin").getSecret());
    List<Expected> expected = new ArrayList<>();
    String admin_ = "servicefarm.v1.FarmAdmin/";
    call(expected, admin_ + "DefineService", "audited-web", () -> operator.defineService(
        ServiceDefinition.newBuilder().setName("audited-web").addPackages("busybox").setPort(80)
            .setVcpus(1).setMemoryMb(256).build()));
    ServiceAccess[] created = new ServiceAccess[1];
    call(expected, "servicefarm.v1.ServiceBroker/RequestService", "audited-web",
        () -> created[0] = operator.requestService("audited-web"));
    String vmId = created[0].vmId();
    // A second request is served by the running VM: no change, no record. The requests' leases
    // stay live, so the VM actions below are forced (a leased VM is refused otherwise).
    operator.requestService("audited-web");
    call(expected, admin_ + "SuspendVm", vmId, () -> operator.suspendVm(vmId, true));
    // Asleep, a request wakes the VM: a change, recorded.
    call(expected, "servicefarm.v1.ServiceBroker/RequestService", "audited-web",
        () -> operator.requestService("audited-web"));
    call(expected, admin_ + "SuspendVm", vmId, () -> operator.suspendVm(vmId, true));
    call(expected, admin_ + "ResumeVm", vmId, () -> operator.resumeVm(vmId));
    call(expected, admin_ + "ArchiveVm", vmId, () -> operator.archiveVm(vmId, true));
    call(expected, admin_ + "RestoreVm", vmId, () -> operator.restoreVm(vmId));
    call(expected, admin_ + "DrainHost", "audit-1", () -> operator.drainHost("audit-1"));
    call(expected, admin_ + "UncordonHost", "audit-1", () -> operator.uncordonHost("audit-1"));
    call(expected, admin_ + "DeleteVm", vmId, () -> operator.deleteVm(vmId, true));
    Path file = Files.createTempFile("audit-image", ".raw");
    byte[] data = new byte[4096];
    new Random(7).nextBytes(data);
    Files.write(file, data);
    String digest = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    call(expected, admin_ + "UploadImage", "audited-upload", () -> {
      try {
        return operator.uploadImage("audited-upload", "raw", file, java.time.Duration.ofSeconds(30));
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    call(expected, admin_ + "RegisterImage", "audited-register", () -> operator.registerImage(
        RegisterImageRequest.newBuilder().setName("audited-register").setFormat("raw")
            .setSourcePath(file.toString()).setSha256(digest).build()));
    call(expected, admin_ + "DeleteService", "audited-web",
        () -> operator.deleteService("audited-web", true));
    call(expected, "servicefarm.v1.TokenAdmin/CreateToken", "audited-client",
        () -> operator.tokens().create("audited-client", "client"));
    call(expected, "servicefarm.v1.TokenAdmin/RevokeToken", "audited-client",
        () -> operator.tokens().revoke("audited-client"));

    List<AuditRecord> records = admin.audit().list("operator", null, 0, 1000);
    List<Expected> recorded = records.stream()
        .map(r -> new Expected(r.getMethod(), r.getTarget(), r.getOutcome())).toList();
    assertEquals(expected, recorded);
    for (AuditRecord r : records) {
      assertEquals("token", r.getCallerKind(), r.toString());
      assertEquals(1, r.getCallCount(), r.toString());
      assertTrue(!r.getTokenId().isEmpty() && !r.getPeer().isEmpty(), r.toString());
    }
    assertTrue(records.get(1).getDetail().startsWith("created VM " + vmId), records.get(1).toString());
    assertTrue(records.get(3).getDetail().startsWith("woke VM " + vmId), records.get(3).toString());
    assertEquals(List.of(), admin.audit().list(null, "no-such-target", 0, 10));
    List<String> onTheVm = admin.audit().list(null, vmId, 0, 1000).stream()
        .map(AuditRecord::getMethod).map(m -> m.substring(m.indexOf('/') + 1)).toList();
    assertEquals(List.of("SuspendVm", "SuspendVm", "ResumeVm", "ArchiveVm", "RestoreVm",
        "DeleteVm"), onTheVm);
  }

  @Test
  void aRefusedCallLeavesARecordWithItsCodeAndTheCaller() {
    FarmClient client = farm.clientWithToken(admin.tokens().create("refused-client", "client")
        .getSecret());
    PermissionDeniedException denied = assertThrows(PermissionDeniedException.class,
        () -> client.tokens().create("sneaky", "admin"));
    assertEquals(Status.Code.PERMISSION_DENIED, denied.code());

    List<AuditRecord> records = admin.audit().list("refused-client", null, 0, 10);
    assertEquals(1, records.size(), records.toString());
    AuditRecord r = records.get(0);
    assertEquals("PERMISSION_DENIED", r.getOutcome());
    assertEquals("servicefarm.v1.TokenAdmin/CreateToken", r.getMethod());
    assertTrue(r.getDetail().contains("needs role admin"), r.getDetail());

    PermissionDeniedException unauthenticated = assertThrows(PermissionDeniedException.class,
        () -> farm.clientWithToken(null).deleteService("anything", true));
    assertEquals(Status.Code.UNAUTHENTICATED, unauthenticated.code());
    assertTrue(admin.audit().list("no token", null, 0, 10).stream().anyMatch(a ->
        a.getOutcome().equals("UNAUTHENTICATED")
            && a.getMethod().equals("servicefarm.v1.FarmAdmin/DeleteService")));
  }

  @Test
  void onlyAdminsReadTheTrail() {
    FarmClient client = farm.clientWithToken(admin.tokens().create("curious", "client").getSecret());
    PermissionDeniedException e = assertThrows(PermissionDeniedException.class,
        () -> client.audit().list(null, null, 0, 10));
    assertEquals(Status.Code.PERMISSION_DENIED, e.code());
  }

  @Test
  void aFloodOfRefusedCallsWritesOneRecordAndCountsTheRest() {
    FarmClient client = farm.clientWithToken(admin.tokens().create("flooder", "client").getSecret());
    for (int i = 0; i < 10_000; i++) {
      assertThrows(PermissionDeniedException.class, () -> client.tokens().list());
    }
    assertEquals(1, admin.audit().list("flooder", null, 0, 1000).size(),
        "refusals after the first in a window are counted, not written");
    farm.controller().auditTrail().flush();
    List<AuditRecord> records = admin.audit().list("flooder", null, 0, 1000);
    assertEquals(2, records.size(), records.toString());
    assertEquals(9_999, records.get(1).getCallCount(), records.get(1).toString());
    assertEquals("PERMISSION_DENIED", records.get(1).getOutcome());
  }
}
