package org.servicefarm.agent.hypervisor.libvirt;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntPredicate;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.api.v1.PortForward;

/**
 * Chooses host ports for a VM's forwarded guest ports: inside the configured range, not promised
 * to any farm domain already (their metadata says which), and bindable on the host right now.
 * The caller keeps choices and the definitions that record them under one lock.
 */
public final class HostPortAllocator {

  public static final int DEFAULT_FIRST_PORT = 20000;
  public static final int DEFAULT_LAST_PORT = 29999;

  private final int firstPort;
  private final int lastPort;
  private final IntPredicate bindableNow;

  public HostPortAllocator(int firstPort, int lastPort) {
    this(firstPort, lastPort, HostPortAllocator::bindableOnAllInterfaces);
  }

  HostPortAllocator(int firstPort, int lastPort, IntPredicate bindableNow) {
    if (firstPort < 1 || lastPort > 65535 || firstPort > lastPort) {
      throw new IllegalArgumentException(
          "host port range " + firstPort + "-" + lastPort + " is not within 1-65535");
    }
    this.firstPort = firstPort;
    this.lastPort = lastPort;
    this.bindableNow = bindableNow;
  }

  /**
   * One forward for each guest port, in order. A {@code preferred} host port (say, the one a VM
   * had before it was archived) is kept when it is still free; otherwise the lowest free port.
   *
   * @param taken host ports other farm domains already hold
   * @param preferred guest port to the host port it would like
   */
  public List<PortForward> choose(
      String vmId, List<Integer> guestPorts, Set<Integer> taken, Map<Integer, Integer> preferred)
      throws HypervisorException {
    Set<Integer> unavailable = new HashSet<>(taken);
    List<PortForward> forwards = new ArrayList<>();
    for (int guestPort : guestPorts) {
      Integer wanted = preferred.get(guestPort);
      int hostPort = wanted != null && isFree(wanted, unavailable)
          ? wanted
          : lowestFree(vmId, guestPort, unavailable);
      unavailable.add(hostPort);
      forwards.add(PortForward.newBuilder().setGuestPort(guestPort).setHostPort(hostPort).build());
    }
    return forwards;
  }

  private int lowestFree(String vmId, int guestPort, Set<Integer> unavailable)
      throws HypervisorException {
    for (int port = firstPort; port <= lastPort; port++) {
      if (isFree(port, unavailable)) {
        return port;
      }
    }
    // The host ran out of something the VM needs: worth retrying later or elsewhere, unlike a
    // malformed command.
    throw new HypervisorException(HypervisorException.Kind.HYPERVISOR, "no free host port in "
        + firstPort + "-" + lastPort + " to forward guest port " + guestPort + " of vm " + vmId);
  }

  private boolean isFree(int port, Set<Integer> unavailable) {
    return port >= firstPort && port <= lastPort && !unavailable.contains(port)
        && bindableNow.test(port);
  }

  /** Whether nothing on the host holds the port right now (checked by binding it briefly). */
  static boolean bindableOnAllInterfaces(int port) {
    try (ServerSocket socket = new ServerSocket()) {
      socket.bind(new InetSocketAddress(port));
      return true;
    } catch (IOException e) {
      // In use (or not ours to take): exactly what this probe asks.
      return false;
    }
  }
}
