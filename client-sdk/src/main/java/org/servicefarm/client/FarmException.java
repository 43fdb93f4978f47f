package org.servicefarm.client;

import io.grpc.Status;

/**
 * A call to the farm failed. Subclasses name the failures a caller can act on; this base class
 * covers the rest. Every instance keeps the gRPC status code and the message the server sent, so
 * callers that need more than the type can still see exactly what the farm said.
 */
public class FarmException extends RuntimeException {

  private final Status.Code code;
  private final String serverMessage;

  /**
   * @param code the gRPC status code the call ended with
   * @param serverMessage the status description the server sent, or "" when it sent none
   * @param message a sentence for people, naming what failed
   * @param cause the gRPC exception this was mapped from, if any
   */
  public FarmException(Status.Code code, String serverMessage, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
    this.serverMessage = serverMessage == null ? "" : serverMessage;
  }

  /** The gRPC status code the call ended with. */
  public Status.Code code() {
    return code;
  }

  /** The status description the server sent, or "" when it sent none. */
  public String serverMessage() {
    return serverMessage;
  }
}
