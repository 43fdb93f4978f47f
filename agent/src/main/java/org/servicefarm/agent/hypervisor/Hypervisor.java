package org.servicefarm.agent.hypervisor;

import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
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

  /**
   * Every farm domain of this host, whatever its power state. Foreign domains, and farm domains
   * of other hosts sharing the same libvirtd, are left out.
   */
  List<DomainStatus> inventory() throws HypervisorException;

  /** The farm domain of the VM, or empty when it is not defined on this host. */
  Optional<DomainStatus> status(String vmId) throws HypervisorException;

  /**
   * Defines the domain without starting it; host ports for forwards are chosen. A disk the VM
   * has on this host is used as it is; a new one is made from the image only when there is none
   * and the spec does not ask to keep the disk ({@link HypervisorException.Kind#DISK_LOST}).
   */
  DomainStatus install(DomainSpec spec) throws HypervisorException;

  /** Boots the domain, from its managed save image when it has one. */
  DomainStatus start(String vmId, long generation) throws HypervisorException;

  /** Managed save: guest memory to disk, host memory freed. */
  DomainStatus suspend(String vmId, long generation) throws HypervisorException;

  /** Starts the domain from its managed save image. */
  DomainStatus resume(String vmId, long generation) throws HypervisorException;

  /**
   * {@link #resume(String, long)}; when the saved memory is missing or unreadable the domain
   * boots from its disk instead, and {@code notice} hears what was lost. {@code clock} hears when
   * the restore itself began and ended.
   */
  DomainStatus resume(String vmId, long generation, Consumer<String> notice, WorkClock clock)
      throws HypervisorException;

  /**
   * Stops the domain (dropping any managed save image), uploads it compressed to the controller's
   * image store, undefines it and removes its files from this host. Repeating it after the domain
   * is gone answers the same reference.
   *
   * @return the archive reference ({@code sha256:<hex>}) to hand to {@link #restore} later, on
   *     this host or any other
   */
  String archive(String vmId, long generation) throws HypervisorException;

  /** Defines the VM on this host from an archive made by {@link #archive} on any host. */
  DomainStatus restore(String archiveRef, DomainSpec spec) throws HypervisorException;

  /**
   * Removes the domain, its managed save image, its disk, console log and any archive leftovers
   * on this host; cached base images stay for other VMs.
   */
  void delete(String vmId) throws HypervisorException;

  /**
   * Why the hypervisor does not answer right now (libvirtd stopped or restarting), or empty
   * when it does; a failure while it does not is no fault of the VM.
   */
  default Optional<String> unreachable() {
    return Optional.empty();
  }

  /**
   * At most {@code maxBytes} from the end of the VM's serial console log; empty when there is
   * none (a VM that has not booted on this host, or one the test driver simulates).
   */
  byte[] consoleTail(String vmId, int maxBytes) throws HypervisorException;

  /** Digests of the image blobs cached on this host, so placement can prefer a warm host. */
  List<String> cachedImages() throws HypervisorException;

  @Override
  void close();
}
