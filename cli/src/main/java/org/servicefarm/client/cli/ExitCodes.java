package org.servicefarm.client.cli;

import io.grpc.Status;
import java.util.LinkedHashMap;
import java.util.Map;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.FarmTimeoutException;
import org.servicefarm.client.FarmUnavailableException;
import org.servicefarm.client.InvalidRequestException;
import org.servicefarm.client.NoCapacityException;
import org.servicefarm.client.NotFoundException;
import org.servicefarm.client.PermissionDeniedException;
import org.servicefarm.client.RateLimitedException;

/** farmctl's exit codes, so scripts can tell "no such service" from "farm down". */
final class ExitCodes {

  static final int OK = 0;
  static final int FAILURE = 1;
  /** picocli's own code for a bad command line. */
  static final int USAGE = 2;
  static final int NOT_FOUND = 3;
  static final int UNAVAILABLE = 4;
  static final int NO_CAPACITY = 5;
  static final int PERMISSION_DENIED = 6;
  static final int INVALID_REQUEST = 7;
  /** FAILED_PRECONDITION: the request is sound but what the farm holds now does not allow it. */
  static final int CONFLICT = 8;

  /** What --help lists under "Exit codes". */
  static Map<String, String> descriptions() {
    Map<String, String> descriptions = new LinkedHashMap<>();
    descriptions.put(Integer.toString(OK), "Success.");
    descriptions.put(Integer.toString(FAILURE), "Any other failure.");
    descriptions.put(Integer.toString(USAGE), "Bad command line.");
    descriptions.put(Integer.toString(NOT_FOUND), "Not found: service, VM, image, ...");
    descriptions.put(Integer.toString(UNAVAILABLE), "Farm unavailable, the call timed out, or the token"
        + " sent more requests per second than the farm allows.");
    descriptions.put(Integer.toString(NO_CAPACITY), "No farm host has room for a new VM.");
    descriptions.put(Integer.toString(PERMISSION_DENIED), "Permission denied, or no valid token.");
    descriptions.put(Integer.toString(INVALID_REQUEST), "The farm refused the request as invalid.");
    descriptions.put(Integer.toString(CONFLICT), "What the farm holds now does not allow it: a"
        + " name taken, a definition that still has VMs, a VM in the wrong state, a lease that"
        + " ended.");
    return descriptions;
  }

  private ExitCodes() {}

  static int of(Throwable error) {
    if (error instanceof NotFoundException) {
      return NOT_FOUND;
    }
    if (error instanceof FarmUnavailableException || error instanceof FarmTimeoutException
        || error instanceof RateLimitedException) {
      return UNAVAILABLE;
    }
    if (error instanceof NoCapacityException) {
      return NO_CAPACITY;
    }
    if (error instanceof PermissionDeniedException) {
      return PERMISSION_DENIED;
    }
    if (error instanceof InvalidRequestException) {
      return INVALID_REQUEST;
    }
    if (error instanceof FarmException farm && farm.code() == Status.Code.FAILED_PRECONDITION) {
      return CONFLICT;
    }
    return FAILURE;
  }
}
