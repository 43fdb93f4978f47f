package org.servicefarm.client;

import io.grpc.Status;

/** No farm host has room for the VM the request needs (RESOURCE_EXHAUSTED). */
public class NoCapacityException extends FarmException {

  /** Used by the SDK's status mapping; {@code serverMessage} is the farm's own words. */
  public NoCapacityException(String serverMessage, String message, Throwable cause) {
    super(Status.Code.RESOURCE_EXHAUSTED, serverMessage, message, cause);
  }
}
