package org.servicefarm.gateway;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The routing table as the controller last sent it: every defined service, its gateway port and
 * its ACTIVE VMs. Replaced whole on each update; readers see one table or the next, never a mix.
 */
public final class RouteTable {

  /** An ACTIVE VM of the service and where its host forwards the service's port. */
  public record Backend(String vmId, String host, int port) {}

  /**
   * One service as routed; {@code maxLeasesPerVm} is its definition's cap (0: none), which this
   * gateway's connections to one VM count against.
   */
  public record Route(String service, int gatewayPort, List<Backend> active, int sleepingVms,
      int archivedVms, int maxLeasesPerVm) {

    /** Whether the VM is ACTIVE (and meant to stay so) in this table. */
    public boolean isActive(String vmId) {
      return active.stream().anyMatch(b -> b.vmId().equals(vmId));
    }

    /**
     * The path a request for the service will take, as far as the table tells: an ACTIVE VM, a
     * sleeping one woken, an archived one restored, or none, so one built.
     */
    public WakePath expectedPath() {
      if (!active.isEmpty()) {
        return WakePath.ACTIVE;
      }
      if (sleepingVms > 0) {
        return WakePath.WOKE;
      }
      return archivedVms > 0 ? WakePath.RESTORED : WakePath.BUILT;
    }
  }

  private record Snapshot(Map<String, Route> byService, Map<Integer, Route> byPort) {}

  private volatile Snapshot current = new Snapshot(Map.of(), Map.of());
  private volatile boolean loaded;
  private final List<Consumer<RouteTable>> listeners = new CopyOnWriteArrayList<>();

  /** Replaces the table with the one the controller sent. */
  public void replace(org.servicefarm.api.v1.RouteTable table) {
    Map<String, Route> byService = new LinkedHashMap<>();
    Map<Integer, Route> byPort = new LinkedHashMap<>();
    for (org.servicefarm.api.v1.ServiceRoute r : table.getRoutesList()) {
      Route route = new Route(r.getService(), r.getGatewayPort(), r.getActiveList().stream()
          .map(b -> new Backend(b.getVmId(), b.getHost(), b.getPort())).toList(),
          r.getSleepingVms(), r.getArchivedVms(), r.getMaxLeasesPerVm());
      byService.put(route.service(), route);
      byPort.put(route.gatewayPort(), route);
    }
    current = new Snapshot(Map.copyOf(byService), Map.copyOf(byPort));
    loaded = true;
    listeners.forEach(l -> l.accept(this));
  }

  /** Whether a table has arrived since the gateway started. */
  public boolean loaded() {
    return loaded;
  }

  public Optional<Route> service(String name) {
    return Optional.ofNullable(current.byService().get(name));
  }

  public Optional<Route> port(int gatewayPort) {
    return Optional.ofNullable(current.byPort().get(gatewayPort));
  }

  public Collection<Route> routes() {
    return current.byService().values();
  }

  /** Called after every replacement, on the thread that replaced the table. */
  public void onChange(Consumer<RouteTable> listener) {
    listeners.add(listener);
  }
}
