package org.servicefarm.agent.hypervisor.libvirt;

import org.libvirt.Domain;

/** libvirt's handle of a farm domain and the metadata read from its persistent definition. */
record FarmDomain(Domain domain, DomainMetadata metadata) {

  String vmId() {
    return metadata.vmId();
  }
}
