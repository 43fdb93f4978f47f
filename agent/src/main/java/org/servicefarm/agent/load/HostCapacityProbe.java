package org.servicefarm.agent.load;

import java.io.IOException;
import java.util.Optional;
import org.servicefarm.agent.hypervisor.Hypervisor;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.agent.hypervisor.NodeResources;
import org.servicefarm.api.v1.HostCapacity;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the host offers to VMs: the operator's figures when given, else the hypervisor's node
 * info, else what the JVM and /proc see.
 */
public final class HostCapacityProbe {

  private static final Logger log = LoggerFactory.getLogger(HostCapacityProbe.class);

  private HostCapacityProbe() {}

  public static HostCapacity capacity(Hypervisor hypervisor, HostLoadProbe load,
      Optional<Integer> vcpusOverride, Optional<Long> memoryMbOverride) throws IOException {
    Optional<NodeResources> node = Optional.empty();
    if (vcpusOverride.isEmpty() || memoryMbOverride.isEmpty()) {
      try {
        node = Optional.of(hypervisor.nodeResources());
      } catch (HypervisorException e) {
        log.warn("using /proc for host capacity: {}", e.getMessage());
      }
    }
    int vcpus = vcpusOverride.orElse(
        node.map(NodeResources::vcpus).orElse(Runtime.getRuntime().availableProcessors()));
    long memoryMb = memoryMbOverride.isPresent()
        ? memoryMbOverride.get()
        : node.isPresent() ? node.get().memoryMb() : load.memoryTotalMb();
    return HostCapacity.newBuilder()
        .setVcpus(vcpus)
        .setMemoryMb(memoryMb)
        .setDiskMb(load.diskTotalMb())
        .build();
  }
}
