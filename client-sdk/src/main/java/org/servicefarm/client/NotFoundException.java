package org.servicefarm.client;

import io.grpc.Status;

/** The farm has no such thing: a VM, image or definition named in the call does not exist. */
public class NotFoundException extends FarmException {

  /** Used by the SDK's status mapping; {@code serverMessage} is the farm's own words. */
  public NotFoundException(String serverMessage, String message, Throwable cause) {
    super(Status.Code.NOT_FOUND, serverMessage, message, cause);
  }
}
