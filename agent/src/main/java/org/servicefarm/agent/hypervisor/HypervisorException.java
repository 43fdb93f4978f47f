package org.servicefarm.agent.hypervisor;

/**
 * A hypervisor operation failed. The message names the VM and what failed, for people; the kind
 * says what sort of failure it was, for the controller, which retries some kinds and not others.
 */
public final class HypervisorException extends Exception {

  /** What sort of failure this is; the command result carries it as its error kind. */
  public enum Kind {
    /** The VM or archive the operation names is not on this host. */
    NOT_FOUND,
    /** The request itself cannot be carried out as given (say, an image without a digest). */
    INVALID,
    /** libvirt, QEMU or qemu-img refused or failed, or the host's files could not be written. */
    HYPERVISOR,
    /** An image or archive could not be fetched, stored or verified. */
    IMAGE,
    /** The VM's disk is not on this host, and the operation needs the disk the VM ran on. */
    DISK_LOST,
    /** The host's disk is full: nothing half-written was kept, and a retry may succeed later. */
    NO_SPACE
  }

  private final Kind kind;

  public HypervisorException(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public HypervisorException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }
}
