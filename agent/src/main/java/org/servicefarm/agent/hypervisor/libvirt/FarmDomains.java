package org.servicefarm.agent.hypervisor.libvirt;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.DomainInfo.DomainState;
import org.libvirt.LibvirtException;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.agent.hypervisor.HypervisorException.Kind;
import org.servicefarm.agent.hypervisor.VmIds;
import org.servicefarm.api.v1.DomainStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds this host's farm domains: those whose persistent (inactive) definition carries farm
 * metadata naming this host. The persistent definition is what {@code setMetadata(CONFIG)}
 * updates and what survives managed save and agent restarts. Every other domain on the libvirtd
 * is foreign and left alone, including the farm domains of other (simulated) hosts sharing it.
 */
final class FarmDomains {

  private static final Logger log = LoggerFactory.getLogger(FarmDomains.class);

  private final LibvirtConnection connection;
  private final String hostId;
  /**
   * Each definition's farm metadata by the definition's XML. Every load report lists every domain,
   * and a definition rarely changes between two reports: comparing its XML is far cheaper than
   * parsing it. Kept for the definitions the last listing saw (and those found since).
   */
  private final Map<String, Optional<DomainMetadata>> metadataByXml = new ConcurrentHashMap<>();

  FarmDomains(LibvirtConnection connection, String hostId) {
    this.connection = connection;
    this.hostId = hostId;
  }

  /**
   * The VM's farm domain on this host. A domain of that name owned by another host sharing the
   * libvirtd is not this host's: empty, as when there is none. A domain of that name without the
   * VM's farm metadata is refused, so the agent never touches it.
   */
  Optional<FarmDomain> find(String vmId) throws HypervisorException {
    VmIds.requireValid(vmId);
    String name = DomainDefinition.domainName(vmId);
    try {
      Domain domain = connection.get().domainLookupByName(name);
      Optional<DomainMetadata> metadata = metadataOf(domain.getXMLDesc(Domain.XMLFlags.INACTIVE));
      if (metadata.isEmpty() || !metadata.get().vmId().equals(vmId)) {
        throw new HypervisorException(Kind.HYPERVISOR, "domain " + name + " exists on this"
            + " libvirtd but does not carry the farm metadata of vm " + vmId
            + "; the agent leaves it alone");
      }
      if (!metadata.get().hostId().equals(hostId)) {
        log.debug("domain {} belongs to host {}, not to {}", name, metadata.get().hostId(),
            hostId);
        return Optional.empty();
      }
      return Optional.of(new FarmDomain(domain, metadata.get()));
    } catch (LibvirtException e) {
      if (LibvirtErrors.isNoDomain(e)) {
        return Optional.empty();
      }
      throw new HypervisorException(Kind.HYPERVISOR,
          "lookup of vm " + vmId + " failed: " + LibvirtErrors.describe(e), e);
    } catch (MalformedMetadataException e) {
      throw new HypervisorException(Kind.HYPERVISOR,
          "domain " + name + " carries unreadable farm metadata: " + e.getMessage(), e);
    }
  }

  /**
   * Every farm domain of this host, running or defined; domains that vanish while listing are
   * skipped.
   */
  List<FarmDomain> all() throws LibvirtException {
    Connect connect = connection.get();
    List<Domain> domains = new ArrayList<>();
    for (int id : connect.listDomains()) {
      ifStillThere(() -> connect.domainLookupByID(id)).ifPresent(domains::add);
    }
    for (String name : connect.listDefinedDomains()) {
      ifStillThere(() -> connect.domainLookupByName(name)).ifPresent(domains::add);
    }
    List<FarmDomain> farmDomains = new ArrayList<>();
    Set<String> listed = new HashSet<>();
    for (Domain domain : domains) {
      Optional<String> xml = ifStillThere(() -> domain.getXMLDesc(Domain.XMLFlags.INACTIVE));
      if (xml.isEmpty()) {
        continue;
      }
      listed.add(xml.get());
      try {
        metadataOf(xml.get())
            .filter(metadata -> metadata.hostId().equals(hostId))
            .ifPresent(metadata -> farmDomains.add(new FarmDomain(domain, metadata)));
      } catch (MalformedMetadataException e) {
        log.warn("skipping domain {}: its farm metadata is unreadable: {}",
            domain.getName(), e.getMessage());
      }
    }
    metadataByXml.keySet().retainAll(listed);
    return farmDomains;
  }

  private Optional<DomainMetadata> metadataOf(String definitionXml)
      throws MalformedMetadataException {
    Optional<DomainMetadata> known = metadataByXml.get(definitionXml);
    if (known != null) {
      return known;
    }
    Optional<DomainMetadata> metadata = DomainMetadataXml.fromDomainXml(definitionXml);
    metadataByXml.put(definitionXml, metadata);
    return metadata;
  }

  /** Host ports promised to this host's farm domains by their metadata. */
  Set<Integer> hostPortsInUse() throws HypervisorException {
    Set<Integer> inUse = new HashSet<>();
    for (FarmDomain farmDomain : allOrFail("host ports")) {
      farmDomain.metadata().ports().forEach(forward -> inUse.add(forward.getHostPort()));
    }
    return inUse;
  }

  /** Digests of the cached blobs this host's farm domains depend on. */
  Set<String> blobsInUse() throws HypervisorException {
    Set<String> inUse = new HashSet<>();
    for (FarmDomain farmDomain : allOrFail("cached images")) {
      inUse.addAll(farmDomain.metadata().blobs());
    }
    return inUse;
  }

  private List<FarmDomain> allOrFail(String what) throws HypervisorException {
    try {
      return all();
    } catch (LibvirtException e) {
      throw new HypervisorException(Kind.HYPERVISOR,
          "listing " + what + " of farm domains failed: " + LibvirtErrors.describe(e), e);
    }
  }

  /** The domain's status, or empty when it was undefined meanwhile. */
  static Optional<DomainStatus> statusIfStillThere(FarmDomain farmDomain) throws LibvirtException {
    return ifStillThere(() -> status(farmDomain));
  }

  /** The domain with {@code generation} recorded in its metadata (its persistent definition). */
  static FarmDomain atGeneration(FarmDomain farmDomain, long generation)
      throws LibvirtException {
    DomainMetadata updated = farmDomain.metadata().atGeneration(generation);
    if (updated == farmDomain.metadata()) {
      return farmDomain;
    }
    farmDomain.domain().setMetadata(Domain.MetadataType.ELEMENT,
        DomainMetadataXml.toSetMetadataXml(updated), DomainMetadataXml.PREFIX,
        DomainMetadataXml.NAMESPACE, Domain.ModificationImpact.CONFIG);
    return new FarmDomain(farmDomain.domain(), updated);
  }

  /**
   * {@link #atGeneration} for a domain a command has just started: its guest runs whether or not
   * the generation is written, so a failed write is logged, not made the command's failure (the
   * controller would record a running VM FAILED); the next command that changes the domain
   * writes its own generation.
   */
  static FarmDomain atGenerationOnceRunning(FarmDomain farmDomain, long generation) {
    try {
      return atGeneration(farmDomain, generation);
    } catch (LibvirtException e) {
      log.warn("vm {} runs, but its generation {} was not recorded in its definition: {}",
          farmDomain.vmId(), generation, LibvirtErrors.describe(e));
      return farmDomain;
    }
  }

  static DomainStatus status(FarmDomain farmDomain) throws LibvirtException {
    Domain domain = farmDomain.domain();
    DomainState state = domain.getInfo().state;
    boolean saved = state == DomainState.VIR_DOMAIN_SHUTOFF && domain.hasManagedSaveImage() == 1;
    return DomainStatus.newBuilder()
        .setVmId(farmDomain.vmId())
        .setGeneration(farmDomain.metadata().generation())
        .setPower(DomainPowerStates.powerState(state, saved))
        .addAllPorts(farmDomain.metadata().ports())
        .build();
  }

  @FunctionalInterface
  private interface LibvirtCall<T> {
    T call() throws LibvirtException;
  }

  private static <T> Optional<T> ifStillThere(LibvirtCall<T> call) throws LibvirtException {
    try {
      return Optional.of(call.call());
    } catch (LibvirtException e) {
      if (LibvirtErrors.isNoDomain(e)) {
        return Optional.empty();
      }
      throw e;
    }
  }
}
