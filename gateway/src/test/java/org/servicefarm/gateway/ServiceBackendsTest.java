package org.servicefarm.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ServiceBackendsTest {

  /** A farm that answers when the test says; for unit tests only. */
  static final class FakeFarm implements Farm {
    final List<CompletableFuture<Granted>> requests = new ArrayList<>();
    final List<String> renewed = new ArrayList<>();
    final List<String> weights = new ArrayList<>();
    final List<String> released = new ArrayList<>();

    @Override
    public CompletableFuture<Granted> request(String service) {
      CompletableFuture<Granted> f = new CompletableFuture<>();
      requests.add(f);
      return f;
    }

    @Override
    public CompletableFuture<Instant> renew(String leaseId, int connections) {
      renewed.add(leaseId);
      weights.add(leaseId + "=" + connections);
      return CompletableFuture.completedFuture(Instant.now().plusSeconds(60));
    }

    @Override
    public CompletableFuture<Void> release(String leaseId) {
      released.add(leaseId);
      return CompletableFuture.completedFuture(null);
    }
  }

  private final FakeFarm farm = new FakeFarm();
  private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
  private final ServiceBackends backends = new ServiceBackends("web", farm, new GatewayMetrics(),
      Duration.ofSeconds(30), nanos::get);

  private static RouteTable.Route route(RouteTable.Backend... active) {
    return new RouteTable.Route("web", 30000, List.of(active), 0, 0, 0);
  }

  private static Farm.Granted granted(String vm, String lease) {
    return new Farm.Granted(vm, "10.0.0.1", 20000, lease, Instant.now().plusSeconds(60), false);
  }

  @Test
  void connectionsArrivingWhileNoVmIsReadyWaitOnOneFarmRequest() {
    CompletableFuture<ServiceBackends.Acquired> first = backends.acquire(route());
    CompletableFuture<ServiceBackends.Acquired> second = backends.acquire(route());

    assertSame(first, second);
    assertEquals(1, farm.requests.size());
    farm.requests.get(0).complete(granted("vm-1", "lease-1"));
    assertEquals("vm-1", first.join().vm().vmId);
    assertEquals(WakePath.BUILT, first.join().path(), "no VM in the table: built");
  }

  @Test
  void aNewConnectionGoesToTheLeasedVmWithFewestConnections() {
    backends.acquire(route());
    farm.requests.get(0).complete(granted("vm-1", "lease-1"));
    RouteTable.Route bothActive = route(new RouteTable.Backend("vm-1", "h", 1),
        new RouteTable.Backend("vm-2", "h", 2));
    // vm-1 is busy, vm-2 is ACTIVE in the table: a lease on another VM is asked for.
    backends.pick(bothActive);
    backends.pick(bothActive);
    assertEquals(2, farm.requests.size());
    farm.requests.get(1).complete(granted("vm-2", "lease-2"));

    assertEquals("vm-2", backends.pick(bothActive).orElseThrow().vmId);
  }

  @Test
  void aLeaseIsRenewedWhileUsedAndReleasedAGraceAfterTheLastConnection() {
    backends.acquire(route());
    farm.requests.get(0).complete(new Farm.Granted("vm-1", "h", 1, "lease-1",
        Instant.now().plusSeconds(20), false));
    LeasedVm vm = backends.pick(route(new RouteTable.Backend("vm-1", "h", 1))).orElseThrow();
    RouteTable.Route active = route(new RouteTable.Backend("vm-1", "h", 1));

    backends.tick(Optional.of(active), Instant.now());
    assertEquals(List.of("lease-1"), farm.renewed, "less than half its term left: renewed");

    backends.detach(vm);
    nanos.addAndGet(Duration.ofSeconds(29).toNanos());
    backends.tick(Optional.of(active), Instant.now());
    assertEquals(List.of(), farm.released, "within the grace");
    nanos.addAndGet(Duration.ofSeconds(2).toNanos());
    backends.tick(Optional.of(active), Instant.now());
    assertEquals(List.of("lease-1"), farm.released);
    assertTrue(backends.idle());
  }

  @Test
  void aVmTheTableNoLongerListsActiveTakesNoNewConnections() {
    backends.acquire(route());
    farm.requests.get(0).complete(granted("vm-1", "lease-1"));
    nanos.addAndGet(ServiceBackends.TABLE_LAG.toNanos() + 1);

    assertEquals(Optional.empty(), backends.pick(route()), "asleep in the table");
    backends.tick(Optional.of(route()), Instant.now());
    assertEquals(List.of("lease-1"), farm.released, "idle and gone from the table: released");
  }

  @Test
  void aVmPutToSleepRightAfterItsWakeTakesNoNewConnectionsOnceTheTableSaysSo() {
    backends.acquire(route());
    farm.requests.get(0).complete(granted("vm-1", "lease-1"));
    RouteTable.Route active = route(new RouteTable.Backend("vm-1", "h", 1));
    backends.detach(backends.pick(active).orElseThrow());

    assertEquals(Optional.empty(), backends.pick(route()),
        "listed ACTIVE once, then absent: asleep, however recent the grant");
  }

  @Test
  void aSecondLeaseOnAVmAlreadyHeldIsReleasedAtOnce() {
    backends.acquire(route());
    farm.requests.get(0).complete(granted("vm-1", "lease-1"));
    backends.acquire(route());
    farm.requests.get(1).complete(granted("vm-1", "lease-2"));

    assertEquals(List.of("lease-2"), farm.released);
  }

  @Test
  void connectionsPastMaxLeasesPerVmAreReportedAndAskTheFarmForAnotherVm() {
    RouteTable.Route capped = new RouteTable.Route("web", 30000,
        List.of(new RouteTable.Backend("vm-1", "h", 1)), 0, 0, 2);
    backends.acquire(capped);
    farm.requests.get(0).complete(granted("vm-1", "lease-1"));
    backends.pick(capped);
    backends.pick(capped);
    assertEquals(1, farm.requests.size(), "two connections fit a cap of 2");

    backends.pick(capped);
    assertEquals(List.of("lease-1=3"), farm.weights, "the third is reported before asking");
    assertEquals(2, farm.requests.size(), "and the farm is asked for a VM again");
    farm.requests.get(1).complete(granted("vm-2", "lease-2"));

    assertEquals("vm-2", backends.pick(capped).orElseThrow().vmId,
        "the new VM takes the next connection");
  }

  @Test
  void aCappedServicesChangedConnectionCountIsReportedOnTheNextTick() {
    RouteTable.Route capped = new RouteTable.Route("web", 30000,
        List.of(new RouteTable.Backend("vm-1", "h", 1)), 0, 0, 10);
    backends.acquire(capped);
    farm.requests.get(0).complete(granted("vm-1", "lease-1"));
    backends.pick(capped);
    LeasedVm vm = backends.pick(capped).orElseThrow();

    backends.tick(Optional.of(capped), Instant.now());
    assertEquals(List.of("lease-1=2"), farm.weights);
    backends.tick(Optional.of(capped), Instant.now());
    assertEquals(List.of("lease-1=2"), farm.weights, "unchanged: not renewed again");
    backends.detach(vm);
    backends.tick(Optional.of(capped), Instant.now());
    assertEquals(List.of("lease-1=2", "lease-1=1"), farm.weights);
  }
}
