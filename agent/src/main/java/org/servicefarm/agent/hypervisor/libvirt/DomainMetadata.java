package org.servicefarm.agent.hypervisor.libvirt;

import java.util.List;
import org.servicefarm.api.v1.PortForward;

/**
 * What the farm keeps inside a libvirt domain's {@code <metadata>}: which VM the domain is, which
 * host's agent owns it (several simulated hosts may share one libvirtd), the newest generation
 * applied to it, the host port chosen for each forwarded guest port, and the cached blobs its
 * disk and boot files come from (so the image cache keeps them). Kept in the domain so an agent
 * restart loses nothing.
 *
 * @param blobs digests of the cached blobs the domain depends on; none for the test driver
 */
public record DomainMetadata(
    String vmId, String hostId, long generation, List<PortForward> ports, List<String> blobs) {

  public DomainMetadata {
    ports = List.copyOf(ports);
    blobs = List.copyOf(blobs);
  }

  /** The same VM at {@code newGeneration}, when that is newer; otherwise this. */
  public DomainMetadata atGeneration(long newGeneration) {
    return newGeneration > generation
        ? new DomainMetadata(vmId, hostId, newGeneration, ports, blobs)
        : this;
  }
}
