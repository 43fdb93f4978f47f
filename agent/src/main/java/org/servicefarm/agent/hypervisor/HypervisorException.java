package org.servicefarm.agent.hypervisor;

/** A hypervisor operation failed; the message names the VM and what failed, for people. */
public final class HypervisorException extends Exception {

  public HypervisorException(String message) {
    super(message);
  }

  public HypervisorException(String message, Throwable cause) {
    super(message, cause);
  }
}
