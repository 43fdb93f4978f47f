package org.servicefarm.agent.hypervisor;

import java.util.HashSet;
import java.util.List;
import org.servicefarm.api.v1.ImageRef;

/**
 * What a VM needs to be defined on a host: the controller's install or restore request.
 *
 * @param guestPorts guest ports to forward to host ports the hypervisor chooses
 * @param progress hears how fetching the images and defining the domain go
 * @param keepDisk the VM has run: define it on the disk it has, never on a new one
 */
public record DomainSpec(
    String vmId, long generation, ImageRef image, int vcpus, long memoryMb,
    List<Integer> guestPorts, InstallProgress progress, boolean keepDisk) {

  /** A spec whose progress nobody follows, for a VM that may get a new disk. */
  public DomainSpec(String vmId, long generation, ImageRef image, int vcpus, long memoryMb,
      List<Integer> guestPorts) {
    this(vmId, generation, image, vcpus, memoryMb, guestPorts, InstallProgress.NONE, false);
  }

  /** A spec for a VM that may get a new disk. */
  public DomainSpec(String vmId, long generation, ImageRef image, int vcpus, long memoryMb,
      List<Integer> guestPorts, InstallProgress progress) {
    this(vmId, generation, image, vcpus, memoryMb, guestPorts, progress, false);
  }

  public DomainSpec {
    VmIds.requireValid(vmId);
    if (vcpus < 1) {
      throw new IllegalArgumentException("vm " + vmId + ": vcpus must be at least 1, got " + vcpus);
    }
    if (memoryMb < 1) {
      throw new IllegalArgumentException(
          "vm " + vmId + ": memory_mb must be at least 1, got " + memoryMb);
    }
    guestPorts = List.copyOf(guestPorts);
    progress = progress == null ? InstallProgress.NONE : progress;
    var seen = new HashSet<Integer>();
    for (int port : guestPorts) {
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException(
            "vm " + vmId + ": guest port " + port + " is not 1-65535");
      }
      if (!seen.add(port)) {
        throw new IllegalArgumentException("vm " + vmId + ": guest port " + port + " listed twice");
      }
    }
  }
}
