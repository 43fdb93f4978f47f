package org.servicefarm.agent.hypervisor.libvirt;

import java.nio.file.Path;
import java.util.Optional;
import org.servicefarm.agent.hypervisor.HypervisorKind;

/**
 * Everything {@link QemuDomainXmlBuilder} puts into the description of a domain QEMU runs.
 *
 * @param kind KVM or QEMU_TCG
 * @param disk the VM's qcow2 overlay
 * @param kernelBoot the image's own kernel, for images that bring one; empty boots from the disk
 * @param consoleLog the file the serial console is written to
 * @param forwardBind the IPv4 address forwarded host ports listen on
 */
public record QemuDomainDefinition(HypervisorKind kind, DomainMetadata metadata, int vcpus,
    long memoryMb, Path disk, Optional<KernelBoot> kernelBoot, Path consoleLog,
    String forwardBind) {

  /**
   * A direct kernel boot.
   *
   * @param imageCmdline the image's kernel command line, before the VM's identity is appended
   */
  public record KernelBoot(Path kernel, Optional<Path> initrd, String imageCmdline) {}

  public QemuDomainDefinition {
    if (!kind.runsQemu()) {
      throw new IllegalArgumentException("a QEMU domain needs kind KVM or QEMU_TCG, not " + kind);
    }
    if (!QemuDomainXmlBuilder.isIpv4Literal(forwardBind)) {
      throw new IllegalArgumentException("forward bind address '" + forwardBind
          + "' is not an IPv4 address such as 127.0.0.1 or 0.0.0.0");
    }
  }
}
