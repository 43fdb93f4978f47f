package org.servicefarm.agent.hypervisor.libvirt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.api.v1.PortForward;

class HostPortAllocatorTest {

  private static List<Integer> hostPorts(List<PortForward> forwards) {
    return forwards.stream().map(PortForward::getHostPort).toList();
  }

  @Test
  void skipsPortsOtherDomainsHoldAndPortsInUseOnTheHost() throws Exception {
    var allocator = new HostPortAllocator(20000, 20010, port -> port != 20002);
    List<PortForward> forwards =
        allocator.choose("vm-1", List.of(80, 443), Set.of(20000, 20001), Map.of());
    assertEquals(List.of(20003, 20004), hostPorts(forwards));
    assertEquals(80, forwards.get(0).getGuestPort());
  }

  @Test
  void keepsPreferredPortWhenStillFreeAndReplacesItWhenTaken() throws Exception {
    var allocator = new HostPortAllocator(20000, 20010, port -> true);
    assertEquals(List.of(20007, 20000), hostPorts(allocator.choose(
        "vm-1", List.of(80, 443), Set.of(20005), Map.of(80, 20007, 443, 20005))));
  }

  @Test
  void fullRangeNamesTheVmAndTheRange() {
    var allocator = new HostPortAllocator(20000, 20001, port -> true);
    var e = assertThrows(HypervisorException.class,
        () -> allocator.choose("vm-9", List.of(22, 80, 443), Set.of(), Map.of()));
    assertTrue(e.getMessage().contains("vm-9") && e.getMessage().contains("20000-20001"),
        e.getMessage());
  }

  @Test
  void portHeldByAListeningSocketIsNotBindable() throws IOException {
    try (ServerSocket listener = new ServerSocket()) {
      listener.bind(new InetSocketAddress(0));
      assertEquals(false, HostPortAllocator.bindableOnAllInterfaces(listener.getLocalPort()));
    }
  }
}
