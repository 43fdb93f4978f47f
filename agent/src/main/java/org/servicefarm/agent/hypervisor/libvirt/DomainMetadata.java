package org.servicefarm.agent.hypervisor.libvirt;

import java.util.List;
import org.servicefarm.api.v1.PortForward;

/**
 * What the farm keeps inside a libvirt domain's {@code <metadata>}: which VM the domain is, the
 * newest generation applied to it, and the host port chosen for each forwarded guest port. Kept
 * in the domain so an agent restart loses nothing.
 */
public record DomainMetadata(String vmId, long generation, List<PortForward> ports) {

  public DomainMetadata {
    ports = List.copyOf(ports);
  }

  /** The same VM at {@code newGeneration}, when that is newer; otherwise this. */
  public DomainMetadata atGeneration(long newGeneration) {
    return newGeneration > generation ? new DomainMetadata(vmId, newGeneration, ports) : this;
  }
}
