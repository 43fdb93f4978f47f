package org.servicefarm.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;

/** The async forms of renew, release and listVms: same answers, retries and exceptions. */
class AsyncCallsTest {
  private FakeFarmServer farm;
  private FarmClient client;

  @BeforeEach
  void startFarm() throws Exception {
    farm = new FakeFarmServer();
    client = farm.client(FarmClientOptions.builder()
        .initialBackoff(Duration.ofMillis(1)).maxBackoff(Duration.ofMillis(5)).build());
  }

  @AfterEach
  void stopFarm() {
    client.close();
    farm.close();
  }

  @Test
  void renewLeaseAsyncCompletesWithTheRenewedLease() throws Exception {
    Lease renewed =
        client.renewLeaseAsync("lease-1", Duration.ofSeconds(90)).get(5, TimeUnit.SECONDS);

    assertEquals("lease-1", renewed.id());
    assertEquals(Duration.ofSeconds(90), renewed.ttl());
    assertEquals(90, farm.broker.renewals().get(0).getTtlSeconds());
  }

  @Test
  void releaseLeaseAsyncRetriesUnavailableThenReleases() throws Exception {
    farm.broker.leaseFaults.failNext(Status.UNAVAILABLE, 2);

    client.releaseLeaseAsync("lease-1").get(5, TimeUnit.SECONDS);

    assertEquals(List.of("lease-1"), farm.broker.releases());
    assertEquals(3, farm.broker.leaseFaults.calls());
  }

  @Test
  void renewLeaseAsyncFailsWithTheTypedException() {
    farm.broker.leaseFaults.failNext(Status.NOT_FOUND.withDescription("no lease lease-9"), 1);

    CompletionException error = assertThrows(CompletionException.class,
        () -> client.renewLeaseAsync("lease-9").join());

    assertInstanceOf(NotFoundException.class, error.getCause());
  }

  @Test
  void listVmsAsyncWalksAllPagesWithTheFilter() throws Exception {
    for (int i = 1; i <= 5; i++) {
      farm.admin.vms.add(Vm.newBuilder().setId("vm-" + i).setState(VmState.VM_STATE_ACTIVE)
          .addServices(i % 2 == 0 ? "redis" : "web").build());
    }
    farm.admin.pageSize = 1;

    List<Vm> vms = client.listVmsAsync(VmFilter.any().offering("web")).get(5, TimeUnit.SECONDS);

    assertEquals(List.of("vm-1", "vm-3", "vm-5"), vms.stream().map(Vm::getId).toList());
    assertEquals(3, farm.admin.listVmsRequests.size(), "one call per page");
    farm.admin.listVmsRequests.forEach(request -> assertEquals("web", request.getService()));
  }
}
