package org.servicefarm.client;

import io.grpc.Status;

/**
 * The call's deadline passed before the farm answered. For RequestService the farm may still be
 * building the VM: asking again with the same idempotency key joins that work.
 */
public class FarmTimeoutException extends FarmException {

  /** Used by the SDK's status mapping; {@code serverMessage} is the farm's own words. */
  public FarmTimeoutException(String serverMessage, String message, Throwable cause) {
    super(Status.Code.DEADLINE_EXCEEDED, serverMessage, message, cause);
  }
}
