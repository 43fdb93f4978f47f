package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ClientInterceptors;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.GatewayRoutesGrpc;
import org.servicefarm.api.v1.RouteTable;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.ServiceGateway;
import org.servicefarm.api.v1.ServiceRoute;
import org.servicefarm.api.v1.WatchRoutesRequest;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.PermissionDeniedException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * The controller's side of the gateways: every service's stable gateway port, the route watch
 * stream, and the least privilege of a token of role gateway; on the real interceptor, token
 * table and database.
 */
class GatewayRoutesIntegrationTest {
  private static InProcessFarm farm;
  private static FarmClient admin;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    admin = farm.client();
    farm.addHost("route-1", 4, 4096);
    farm.awaitConnected(List.of("route-1"));
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  private static void define(String name) {
    admin.defineService(ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
        .setPort(80).setVcpus(1).setMemoryMb(256).build());
  }

  private static Map<String, Integer> ports() {
    return admin.listServices().getGatewaysList().stream()
        .collect(Collectors.toMap(ServiceGateway::getService, ServiceGateway::getGatewayPort));
  }

  @Test
  void everyServiceGetsItsOwnGatewayPortThatSurvivesRedefinitionAndDeletion() {
    define("port-a");
    define("port-b");
    int a = ports().get("port-a");
    int b = ports().get("port-b");
    assertNotEquals(a, b);
    assertTrue(a >= 30000 && a <= 32767 && b >= 30000 && b <= 32767, a + ", " + b);

    define("port-a"); // the same name defined again
    admin.deleteService("port-b", true);
    define("port-b");

    assertEquals(a, ports().get("port-a"), "redefined: same port");
    assertEquals(b, ports().get("port-b"), "deleted and defined again: same port");
  }

  @Test
  void theRequestAnswerCarriesTheServicesGatewayAddress() {
    define("port-answer");
    ServiceAccess access = admin.requestService("port-answer");
    assertEquals("127.0.0.1:" + ports().get("port-answer"), access.gatewayAddress());
    admin.releaseLease(access.lease().id());
  }

  @Test
  void aGatewayTokenMayRequestRenewReleaseAndWatchRoutesAndNothingElse() throws Exception {
    define("gw-role");
    FarmClient gateway = farm.clientWithToken(
        admin.tokens().create("gw-role-test", "gateway").getSecret());

    ServiceAccess access = gateway.requestService("gw-role");
    gateway.renewLease(access.lease().id());
    gateway.releaseLease(access.lease().id());

    assertThrows(PermissionDeniedException.class, gateway::listServices);
    assertThrows(PermissionDeniedException.class, gateway::listVms);
    assertThrows(PermissionDeniedException.class, () -> gateway.getVm(access.vmId()));
    assertThrows(PermissionDeniedException.class, () -> gateway.suspendVm(access.vmId()));
    assertThrows(PermissionDeniedException.class, () -> gateway.tokens().list());
    assertThrows(PermissionDeniedException.class, () -> define(gateway, "gw-role-2"));
  }

  @Test
  void aGatewaysLeaseWeighsItsConnectionsAgainstMaxLeasesPerVmAndOnlyAGatewaySetsThem() {
    admin.defineService(ServiceDefinition.newBuilder().setName("gw-weight").addPackages("busybox")
        .setPort(80).setVcpus(1).setMemoryMb(256).setMaxLeasesPerVm(2).setMaxInstances(2)
        .build());
    FarmClient gateway = farm.clientWithToken(
        admin.tokens().create("gw-weight-gateway", "gateway").getSecret());
    FarmClient user = farm.clientWithToken(
        admin.tokens().create("gw-weight-client", "client").getSecret());
    ServiceAccess held = gateway.requestService("gw-weight");

    gateway.renewLeaseAsync(held.lease().id(), 2).join();
    ServiceAccess next = admin.requestService("gw-weight");
    assertNotEquals(held.vmId(), next.vmId(), "one lease standing for 2 connections fills a VM"
        + " capped at 2: the next request starts another");
    admin.releaseLease(next.lease().id());

    ServiceAccess own = user.requestService("gw-weight");
    java.util.concurrent.CompletionException refused = assertThrows(
        java.util.concurrent.CompletionException.class,
        () -> user.renewLeaseAsync(own.lease().id(), 50).join());
    assertTrue(refused.getCause() instanceof PermissionDeniedException
        && refused.getCause().getMessage().contains("only a gateway"), refused.toString());
    user.releaseLease(own.lease().id());
    gateway.releaseLease(held.lease().id());
  }

  private static void define(FarmClient client, String name) {
    client.defineService(ServiceDefinition.newBuilder().setName(name).addPackages("busybox")
        .setPort(80).setVcpus(1).setMemoryMb(256).build());
  }

  @Test
  void theRouteWatchSendsTheTableThenEachChangeWithTheActiveVms() throws Exception {
    define("route-web");
    Metadata auth = new Metadata();
    auth.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
        "Bearer " + admin.tokens().create("route-watch-test", "gateway").getSecret());
    LinkedBlockingQueue<RouteTable> tables = new LinkedBlockingQueue<>();
    Context.CancellableContext watch = Context.current().withCancellation();
    watch.run(() -> GatewayRoutesGrpc.newStub(ClientInterceptors.intercept(farm.channel(),
        MetadataUtils.newAttachHeadersInterceptor(auth))).watchRoutes(
        WatchRoutesRequest.getDefaultInstance(), new StreamObserver<>() {
          @Override
          public void onNext(RouteTable table) {
            tables.add(table);
          }

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {}
        }));
    try {
      ServiceRoute first = awaitRoute(tables, "route-web", r -> true);
      assertEquals((int) ports().get("route-web"), first.getGatewayPort());
      assertEquals(0, first.getActiveCount());

      ServiceAccess access = admin.requestService("route-web");

      ServiceRoute active = awaitRoute(tables, "route-web", r -> r.getActiveCount() == 1);
      assertEquals(access.vmId(), active.getActive(0).getVmId());
      assertEquals(access.host(), active.getActive(0).getHost());
      assertEquals(access.port(), active.getActive(0).getPort());

      admin.suspendVm(access.vmId(), true);
      // Tables replace each other: the one that counts the VM asleep may be the first after.
      awaitRoute(tables, "route-web", r -> r.getSleepingVms() == 1 && r.getActiveCount() == 0);

      define("route-later");
      awaitRoute(tables, "route-later", r -> true);
    } finally {
      watch.cancel(null);
    }
  }

  private static ServiceRoute awaitRoute(LinkedBlockingQueue<RouteTable> tables, String service,
      Predicate<ServiceRoute> wanted) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < deadline) {
      RouteTable table = tables.poll(500, TimeUnit.MILLISECONDS);
      if (table == null) {
        continue;
      }
      for (ServiceRoute r : table.getRoutesList()) {
        if (r.getService().equals(service) && wanted.test(r)) {
          return r;
        }
      }
    }
    throw new AssertionError("no route table with the wanted route of " + service);
  }
}
