package org.servicefarm.agent.hypervisor;

import java.util.List;
import java.util.Optional;
import org.servicefarm.api.v1.DomainStatus;

/**
 * The seam between the agent and whatever runs its VMs. Every operation is idempotent, because the
 * controller repeats commands until it observes their effect: asking for a state the VM is already
 * in succeeds and changes nothing.
 *
 * <p>Calls for one VM must not overlap (the agent runs them through a per-VM serial executor);
 * calls for different VMs may run in parallel.
 *
 * <p>{@code generation} is the controller's version of the VM record; an implementation keeps the
 * highest one it was given beside the domain so it survives agent restarts.
 */
public interface Hypervisor extends AutoCloseable {

  /** What runs the VMs; reported to the controller at registration. */
  HypervisorKind kind();

  /** CPUs and memory the host offers, as the hypervisor sees them. */
  NodeResources nodeResources() throws HypervisorException;

  /** Every farm domain on this host, whatever its power state. Foreign domains are left out. */
  List<DomainStatus> inventory() throws HypervisorException;

  /** The farm domain of the VM, or empty when it is not defined on this host. */
  Optional<DomainStatus> status(String vmId) throws HypervisorException;

  /** Defines the domain (and its disk) without starting it; host ports for forwards are chosen. */
  DomainStatus install(DomainSpec spec) throws HypervisorException;

  /** Boots the domain, from its managed save image when it has one. */
  DomainStatus start(String vmId, long generation) throws HypervisorException;

  /** Managed save: guest memory to disk, host memory freed. */
  DomainStatus suspend(String vmId, long generation) throws HypervisorException;

  /** Starts the domain from its managed save image. */
  DomainStatus resume(String vmId, long generation) throws HypervisorException;

  /**
   * Stops the domain, moves its disk (when one exists) into the archive store with its metadata,
   * and undefines it.
   *
   * @return the archive reference to hand to {@link #restore} later
   */
  String archive(String vmId, long generation) throws HypervisorException;

  /** Defines the VM again on this host from an archive made by {@link #archive}. */
  DomainStatus restore(String archiveRef, DomainSpec spec) throws HypervisorException;

  /** Removes the domain, its managed save image, its disk and any archive of it. */
  void delete(String vmId) throws HypervisorException;

  @Override
  void close();
}
