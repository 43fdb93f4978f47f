package org.servicefarm.controller;

/**
 * A failure the controller explains to its caller. Each subclass maps to one gRPC status code in
 * {@code api.StatusMapper}; the message is for people and names the offending value.
 */
public abstract class FarmException extends RuntimeException {

  protected FarmException(String message) {
    super(message);
  }

  /** No service of that name is offered or defined. */
  public static final class ServiceNotFound extends FarmException {
    public ServiceNotFound(String service) {
      super("service '" + service + "' is not offered and not defined in the catalog");
    }
  }

  /** A named thing (VM, image, definition) does not exist. */
  public static final class NotFound extends FarmException {
    public NotFound(String message) {
      super(message);
    }
  }

  /** Hosts exist, but none has room for the VM. */
  public static final class NoCapacity extends FarmException {
    public NoCapacity(String message) {
      super(message);
    }
  }

  /** The farm cannot act now (no hosts, host down, VM failed); trying later may work. */
  public static final class Unavailable extends FarmException {
    public Unavailable(String message) {
      super(message);
    }
  }

  /** The request is malformed. */
  public static final class InvalidInput extends FarmException {
    public InvalidInput(String message) {
      super(message);
    }
  }

  /** The request clashes with what exists (a name taken, a VM in the wrong state). */
  public static final class Conflict extends FarmException {
    public Conflict(String message) {
      super(message);
    }
  }

  /** The caller's deadline passed before the farm finished. */
  public static final class TimedOut extends FarmException {
    public TimedOut(String message) {
      super(message);
    }
  }

  /** A project's quota would be passed; the message names the quota, the usage and the limit. */
  public static final class QuotaExceeded extends FarmException {
    public QuotaExceeded(String message) {
      super(message);
    }
  }

  /** The caller's token may not do this (a project's token acting on the whole farm). */
  public static final class PermissionDenied extends FarmException {
    public PermissionDenied(String message) {
      super(message);
    }
  }
}
