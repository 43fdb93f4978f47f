package org.servicefarm.agent.hypervisor.libvirt;

import java.nio.file.Path;

/**
 * Everything {@link DomainXmlBuilder} puts into a domain description.
 *
 * @param domainType libvirt's domain type: "test", "kvm" or "qemu"
 * @param diskPath the VM's disk file; it need not exist for the test driver
 */
public record DomainDefinition(
    String domainType, DomainMetadata metadata, int vcpus, long memoryMb, Path diskPath) {

  /** Farm domains are named {@code sf-<vmId>} so people can tell them apart in virsh. */
  public static final String NAME_PREFIX = "sf-";

  public static String domainName(String vmId) {
    return NAME_PREFIX + vmId;
  }

  public String domainName() {
    return domainName(metadata.vmId());
  }
}
