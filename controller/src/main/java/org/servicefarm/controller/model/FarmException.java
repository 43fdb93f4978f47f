package org.servicefarm.controller.model;

/**
 * A failure the controller explains to its caller. The type is sealed: its subtypes below are
 * every way a domain failure reaches a client, and each names its {@link Kind}, which
 * {@code api.StatusMapper} turns into one gRPC status code in a switch the compiler checks for
 * completeness. The message is for people and names the offending value.
 */
public abstract sealed class FarmException extends RuntimeException {

  /** What went wrong, as a client acts on it; one gRPC code each. */
  public enum Kind {
    NOT_FOUND,
    NO_CAPACITY,
    UNAVAILABLE,
    INVALID_INPUT,
    PERMISSION_DENIED,
    CONFLICT,
    TIMED_OUT
  }

  private static final int MAX_SHOWN = 80;

  private final Kind kind;

  private FarmException(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }

  /** A value a caller sent, as a message may show it back: bounded, control characters escaped. */
  public static String shown(String value) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < value.length() && out.length() < MAX_SHOWN; i++) {
      char c = value.charAt(i);
      out.append(c < 0x20 || c == 0x7f ? String.format("\\x%02x", (int) c) : String.valueOf(c));
    }
    return value.length() > MAX_SHOWN ? out + "…(" + value.length() + " characters)" : out.toString();
  }

  /** No service of that name is offered or defined. */
  public static final class ServiceNotFound extends FarmException {
    public ServiceNotFound(String service) {
      super(Kind.NOT_FOUND,
          "service '" + service + "' is not offered and not defined in the catalog");
    }
  }

  /** A named thing (VM, image, definition) does not exist. */
  public static final class NotFound extends FarmException {
    public NotFound(String message) {
      super(Kind.NOT_FOUND, message);
    }
  }

  /** Hosts exist, but none has room for the VM. */
  public static final class NoCapacity extends FarmException {
    public NoCapacity(String message) {
      super(Kind.NO_CAPACITY, message);
    }
  }

  /** The farm cannot act now (no hosts, host down, VM failed); trying later may work. */
  public static final class Unavailable extends FarmException {
    public Unavailable(String message) {
      super(Kind.UNAVAILABLE, message);
    }
  }

  /** The request is malformed. */
  public static final class InvalidInput extends FarmException {
    public InvalidInput(String message) {
      super(Kind.INVALID_INPUT, message);
    }
  }

  /** The caller is known but may not do this (e.g. an agent registering another host). */
  public static final class PermissionDenied extends FarmException {
    public PermissionDenied(String message) {
      super(Kind.PERMISSION_DENIED, message);
    }
  }

  /** A project's quota would be passed; the message names the quota, the usage and the limit. */
  public static final class QuotaExceeded extends FarmException {
    public QuotaExceeded(String message) {
      super(Kind.NO_CAPACITY, message);
    }
  }

  /**
   * The caller passed a limit the farm keeps for every caller alike (a watch that fell too far
   * behind); the message names the limit and how to go on.
   */
  public static final class LimitReached extends FarmException {
    public LimitReached(String message) {
      super(Kind.NO_CAPACITY, message);
    }
  }

  /** The request clashes with what exists (a name taken, a VM in the wrong state). */
  public static final class Conflict extends FarmException {
    public Conflict(String message) {
      super(Kind.CONFLICT, message);
    }
  }

  /** The caller's deadline passed before the farm finished. */
  public static final class TimedOut extends FarmException {
    public TimedOut(String message) {
      super(Kind.TIMED_OUT, message);
    }
  }
}
