package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ListServicesResponse;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.PermissionDeniedException;
import org.servicefarm.controller.auth.TokenVerifier;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * Who may call what, on the controller's real interceptor and token table: tokens by role, no
 * token, revoked tokens, the bootstrap admin token, and that secrets are never stored.
 */
class AuthIntegrationTest {
  private static InProcessFarm farm;
  private static FarmClient admin;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    admin = farm.client();
    farm.addHost("sim-1", 4, 4096);
    farm.awaitConnected(List.of("sim-1"));
    define("auth-web");
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  private static void define(String name) {
    admin.defineService(ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
        .setPort(80).setVcpus(1).setMemoryMb(256).build());
  }

  private static String newToken(String name, String role) {
    return admin.tokens().create(name, role).getSecret();
  }

  /** True when the service is offered now or could be built. */
  private static boolean lists(FarmClient client, String service) {
    ListServicesResponse services = client.listServices();
    return services.getConstructibleList().contains(service)
        || services.getOfferedList().stream().anyMatch(s -> s.getName().equals(service));
  }

  @Test
  void aCallWithoutATokenIsUnauthenticated() {
    FarmClient anonymous = farm.clientWithToken(null);
    PermissionDeniedException e =
        assertThrows(PermissionDeniedException.class, anonymous::listServices);
    assertEquals(Status.Code.UNAUTHENTICATED, e.code());
    assertTrue(e.getMessage().contains("no bearer token"), e.getMessage());
  }

  @Test
  void anUnknownTokenIsUnauthenticatedAndNotEchoed() {
    String madeUp = "sf_" + "A".repeat(43);
    PermissionDeniedException e = assertThrows(PermissionDeniedException.class,
        () -> farm.clientWithToken(madeUp).listServices());
    assertEquals(Status.Code.UNAUTHENTICATED, e.code());
    assertTrue(e.getMessage().contains("unknown"), e.getMessage());
    assertFalse(e.getMessage().contains(madeUp), "the token is never echoed");
  }

  @Test
  void aClientTokenRequestsServicesButCannotDefineThem() {
    FarmClient client = farm.clientWithToken(newToken("client-a", "client"));
    assertTrue(lists(client, "auth-web"));
    assertEquals(VmState.VM_STATE_ACTIVE, client.requestService("auth-web").state());
    PermissionDeniedException e = assertThrows(PermissionDeniedException.class,
        () -> client.defineService(ServiceDefinition.newBuilder().setName("sneaky")
            .addPackages("busybox").setPort(80).setVcpus(1).setMemoryMb(256).build()));
    assertEquals(Status.Code.PERMISSION_DENIED, e.code());
    assertTrue(e.getMessage().contains("servicefarm.v1.FarmAdmin/DefineService"), e.getMessage());
    assertTrue(e.getMessage().contains("client-a"), e.getMessage());
  }

  @Test
  void anAdminTokenDoesBoth() {
    FarmClient second = farm.clientWithToken(newToken("admin-b", "admin"));
    second.defineService(ServiceDefinition.newBuilder().setName("admin-web")
        .addPackages("busybox").setPort(80).setVcpus(1).setMemoryMb(256).build());
    assertTrue(lists(second, "admin-web"));
    assertEquals(VmState.VM_STATE_ACTIVE, second.requestService("auth-web").state());
  }

  @Test
  void aClientTokenCannotManageTokens() {
    FarmClient client = farm.clientWithToken(newToken("client-c", "client"));
    PermissionDeniedException e =
        assertThrows(PermissionDeniedException.class, () -> client.tokens().list());
    assertEquals(Status.Code.PERMISSION_DENIED, e.code());
  }

  @Test
  void aTokenRevokedThroughTheApiIsRefusedAtOnce() {
    FarmClient client = farm.clientWithToken(newToken("client-d", "client"));
    client.listServices();
    admin.tokens().revoke("client-d");
    PermissionDeniedException e = assertThrows(PermissionDeniedException.class,
        client::listServices);
    assertEquals(Status.Code.UNAUTHENTICATED, e.code());
    assertTrue(e.getMessage().contains("'client-d' was revoked"), e.getMessage());
  }

  @Test
  void aTokenRevokedByAnotherControllerIsRefusedWithinTheCacheTime() {
    FarmClient client = farm.clientWithToken(newToken("client-e", "client"));
    client.listServices();
    // Another controller revoking writes the table only; this one learns of it on its refresh.
    farm.db().update("UPDATE api_tokens SET revoked_at = now() WHERE name = ?", "client-e");
    Await.until("the revoked token is refused", TokenVerifier.REFRESH.plus(Duration.ofSeconds(2)),
        () -> {
          try {
            client.listServices();
            return false;
          } catch (PermissionDeniedException refused) {
            return refused.code() == Status.Code.UNAUTHENTICATED;
          }
        });
  }

  @Test
  void theBootstrapAdminTokenFileIsPrivateAndWorks() throws Exception {
    assertEquals("rw-------", PosixFilePermissions.toString(
        Files.getPosixFilePermissions(farm.adminTokenFile())));
    String secret = Files.readString(farm.adminTokenFile()).strip();
    assertTrue(secret.matches("sf_[A-Za-z0-9_-]{43}"), "token format");
    assertTrue(farm.clientWithToken(secret).tokens().list().stream()
        .anyMatch(t -> t.getName().equals("bootstrap-admin") && t.getRole().equals("admin")));
  }

  @Test
  void tokensAreStoredHashedNeverInClear() {
    String secret = newToken("client-f", "client");
    List<String> stored = farm.db().query(
        "SELECT id::text || name || role || token_hash FROM api_tokens", rs -> rs.getString(1));
    assertFalse(stored.isEmpty());
    assertTrue(stored.stream().noneMatch(row -> row.contains(secret)
        || row.contains(secret.substring(3))), "no row holds the secret");
    assertTrue(admin.tokens().list().stream().allMatch(t -> t.toString().indexOf("sf_") < 0),
        "listing never shows secrets");
  }
}
