package org.servicefarm.agent.hypervisor.libvirt;

import org.servicefarm.agent.hypervisor.HypervisorKind;

/**
 * Who this host is to libvirt and how its domains are built.
 *
 * @param hostId recorded in each domain's metadata: several simulated hosts may share a libvirtd,
 *     and each agent only sees and touches its own domains
 * @param forwardBind the IPv4 address QEMU binds forwarded host ports to; unused by the test
 *     driver
 */
public record HostSettings(String hostId, HypervisorKind kind, String forwardBind) {

  public HostSettings {
    if (hostId == null || hostId.isBlank()) {
      throw new IllegalArgumentException("a host id is needed");
    }
    if (kind.runsQemu() && !QemuDomainXmlBuilder.isIpv4Literal(forwardBind)) {
      throw new IllegalArgumentException("forward bind address '" + forwardBind
          + "' is not an IPv4 address, which QEMU's port forwards need");
    }
  }
}
