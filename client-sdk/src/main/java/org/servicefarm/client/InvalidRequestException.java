package org.servicefarm.client;

import io.grpc.Status;

/** The farm refused the request's contents (INVALID_ARGUMENT); the message says which field. */
public class InvalidRequestException extends FarmException {

  public InvalidRequestException(String serverMessage, String message, Throwable cause) {
    super(Status.Code.INVALID_ARGUMENT, serverMessage, message, cause);
  }
}
