package org.servicefarm.client;

import io.grpc.Status;

/**
 * The farm did not accept the caller: no or a bad token (UNAUTHENTICATED), or a token that may
 * not make this call (PERMISSION_DENIED). One type for both, because the remedy is the same: use
 * another token; {@link #code()} tells them apart.
 */
public class PermissionDeniedException extends FarmException {

  /** Used by the SDK's status mapping; {@code serverMessage} is the farm's own words. */
  public PermissionDeniedException(
      Status.Code code, String serverMessage, String message, Throwable cause) {
    super(code, serverMessage, message, cause);
  }
}
