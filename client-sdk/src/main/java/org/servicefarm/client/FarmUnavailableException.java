package org.servicefarm.client;

import io.grpc.Status;

/** The controller could not be reached, even after the retries the call was allowed. */
public class FarmUnavailableException extends FarmException {

  /** Used by the SDK's status mapping; {@code serverMessage} is the farm's own words. */
  public FarmUnavailableException(String serverMessage, String message, Throwable cause) {
    super(Status.Code.UNAVAILABLE, serverMessage, message, cause);
  }
}
