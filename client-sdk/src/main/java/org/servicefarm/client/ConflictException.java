package org.servicefarm.client;

import io.grpc.Status;

/**
 * The farm refused the change in the state things are in now (FAILED_PRECONDITION): a VM action
 * its VM's state does not allow, a service definition with VMs deleted without force, an image
 * name already taken, a lease that has ended. The message says what is in the way.
 */
public class ConflictException extends FarmException {

  /** Used by the SDK's status mapping; {@code serverMessage} is the farm's own words. */
  public ConflictException(String serverMessage, String message, Throwable cause) {
    super(Status.Code.FAILED_PRECONDITION, serverMessage, message, cause);
  }
}
