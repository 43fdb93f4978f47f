package org.servicefarm.client;

import io.grpc.Status;

/** The farm refused the request's contents (INVALID_ARGUMENT); the message says which field. */
public class InvalidRequestException extends FarmException {

  /** Used by the SDK's status mapping; {@code serverMessage} is the farm's own words. */
  public InvalidRequestException(String serverMessage, String message, Throwable cause) {
    super(Status.Code.INVALID_ARGUMENT, serverMessage, message, cause);
  }
}
