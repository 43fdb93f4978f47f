package org.servicefarm.e2e.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.servicefarm.agent.hypervisor.DomainSpec;
import org.servicefarm.agent.hypervisor.Hypervisor;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.agent.hypervisor.HypervisorKind;
import org.servicefarm.agent.hypervisor.NodeResources;
import org.servicefarm.agent.hypervisor.WorkClock;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.PortForward;
import org.servicefarm.api.v1.PowerState;

/**
 * A simulated host's domains as a map, for benchmarks only: an agent that drives it costs the
 * benchmark's JVM a map update per command instead of a libvirt test-driver connection and an XML
 * definition per domain, so what a placement benchmark measures is the controller. It reports
 * itself as libvirt's test driver (the controller builds no images for it) and keeps no archives:
 * an archive or restore fails, naming this class.
 */
final class InMemoryHypervisorForSimulation implements Hypervisor {
  private final NodeResources resources;
  private final Map<String, DomainStatus> domains = new ConcurrentHashMap<>();
  private int nextPort; // under this; ports are never reused within a run

  InMemoryHypervisorForSimulation(int vcpus, long memoryMb, int firstPort) {
    this.resources = new NodeResources(vcpus, memoryMb);
    this.nextPort = firstPort;
  }

  @Override
  public HypervisorKind kind() {
    return HypervisorKind.TEST;
  }

  @Override
  public NodeResources nodeResources() {
    return resources;
  }

  @Override
  public List<DomainStatus> inventory() {
    return new ArrayList<>(domains.values());
  }

  @Override
  public Optional<DomainStatus> status(String vmId) {
    return Optional.ofNullable(domains.get(vmId));
  }

  @Override
  public DomainStatus install(DomainSpec spec) {
    return domains.computeIfAbsent(spec.vmId(), id -> {
      DomainStatus.Builder domain = DomainStatus.newBuilder().setVmId(id)
          .setGeneration(spec.generation()).setPower(PowerState.POWER_STATE_SHUT_OFF);
      for (int guestPort : spec.guestPorts()) {
        domain.addPorts(PortForward.newBuilder().setGuestPort(guestPort).setHostPort(port()));
      }
      return domain.build();
    });
  }

  private synchronized int port() {
    return nextPort++;
  }

  @Override
  public DomainStatus start(String vmId, long generation) throws HypervisorException {
    return power(vmId, generation, PowerState.POWER_STATE_RUNNING);
  }

  @Override
  public DomainStatus suspend(String vmId, long generation) throws HypervisorException {
    return power(vmId, generation, PowerState.POWER_STATE_SAVED);
  }

  @Override
  public DomainStatus resume(String vmId, long generation) throws HypervisorException {
    return power(vmId, generation, PowerState.POWER_STATE_RUNNING);
  }

  @Override
  public DomainStatus resume(String vmId, long generation, Consumer<String> notice,
      WorkClock clock) throws HypervisorException {
    return resume(vmId, generation);
  }

  private DomainStatus power(String vmId, long generation, PowerState power)
      throws HypervisorException {
    DomainStatus changed = domains.computeIfPresent(vmId, (id, d) -> d.toBuilder()
        .setGeneration(Math.max(generation, d.getGeneration())).setPower(power).build());
    if (changed == null) {
      throw new HypervisorException(HypervisorException.Kind.NOT_FOUND, "VM " + vmId
          + " is not defined on this simulated host");
    }
    return changed;
  }

  @Override
  public String archive(String vmId, long generation) throws HypervisorException {
    throw new HypervisorException(HypervisorException.Kind.INVALID,
        "InMemoryHypervisorForSimulation keeps no archives (VM " + vmId + ")");
  }

  @Override
  public DomainStatus restore(String archiveRef, DomainSpec spec) throws HypervisorException {
    throw new HypervisorException(HypervisorException.Kind.INVALID,
        "InMemoryHypervisorForSimulation keeps no archives (" + archiveRef + ")");
  }

  @Override
  public void delete(String vmId) {
    domains.remove(vmId);
  }

  @Override
  public byte[] consoleTail(String vmId, int maxBytes) {
    return new byte[0]; // no guest, no console
  }

  @Override
  public List<String> cachedImages() {
    return List.of(); // a simulated host boots nothing, so it needs no images
  }

  @Override
  public void close() {
    domains.clear();
  }
}
