package org.servicefarm.controller.api;

import java.util.List;
import java.util.UUID;
import java.util.regex.Pattern;
import org.servicefarm.controller.model.FarmException;

/** Input checks shared by every API; each failure names the field and the offending value. */
public final class Validation {
  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
  private static final Pattern IMAGE_NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,127}");
  private static final Pattern PACKAGE = Pattern.compile("[a-z0-9][a-z0-9+.-]{0,127}");
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
  public static final int MAX_PACKAGES = 256;
  public static final int MAX_KEY_LENGTH = 128;
  public static final int MAX_COMMAND_LENGTH = 4096;
  public static final int MAX_BUNDLED = 32;

  private Validation() {}

  public static String serviceName(String field, String value) {
    return matches(field, value, NAME, "lowercase letters, digits and '-', 1 to 63 characters, "
        + "starting with a letter or digit");
  }

  public static String hostId(String value) {
    return matches("host_id", value, NAME, "lowercase letters, digits and '-', 1 to 63 characters");
  }

  public static String imageName(String field, String value) {
    return matches(field, value, IMAGE_NAME, "lowercase letters, digits, '.', '_' and '-', "
        + "1 to 128 characters");
  }

  public static String sha256(String field, String value) {
    return matches(field, value, SHA256, "64 lowercase hex digits");
  }

  public static List<String> packages(List<String> packages) {
    if (packages.size() > MAX_PACKAGES) {
      throw invalid("packages: " + packages.size() + " packages given, at most " + MAX_PACKAGES);
    }
    for (String p : packages) {
      matches("packages", p, PACKAGE, "a Debian package name");
    }
    return packages;
  }

  /**
   * A guest's command: at most {@link #MAX_COMMAND_LENGTH} characters, no control characters but
   * tab (PostgreSQL cannot store NUL, and a newline would start another line of the guest's init).
   */
  public static String command(String field, String value) {
    if (value.length() > MAX_COMMAND_LENGTH) {
      throw invalid(field + ": " + value.length() + " characters, at most " + MAX_COMMAND_LENGTH);
    }
    text(field, value, MAX_COMMAND_LENGTH);
    return value;
  }

  /** Free text (an address, a reason): at most {@code max} characters, no control characters. */
  public static String text(String field, String value, int max) {
    if (value.length() > max) {
      throw invalid(field + ": '" + shown(value) + "' is longer than " + max + " characters");
    }
    if (value.chars().anyMatch(c -> c < 0x20 && c != '\t' || c == 0x7f)) {
      throw invalid(field + ": '" + shown(value) + "' holds control characters");
    }
    return value;
  }

  /** How many further services one definition may bundle. */
  public static <T> List<T> bundled(List<T> bundled) {
    if (bundled.size() > MAX_BUNDLED) {
      throw invalid("definition.bundled: " + bundled.size() + " services given, at most "
          + MAX_BUNDLED);
    }
    return bundled;
  }

  public static UUID vmId(String value) {
    try {
      if (value.length() == 36) {
        return UUID.fromString(value);
      }
    } catch (IllegalArgumentException e) {
      // falls through to the error below, which names the value
    }
    throw invalid("vm_id: '" + shown(value) + "' is not a VM id (a UUID such as "
        + "123e4567-e89b-12d3-a456-426614174000)");
  }

  /** A lease id: a UUID, like a VM id. */
  public static UUID leaseId(String value) {
    try {
      if (value.length() == 36) {
        return UUID.fromString(value);
      }
    } catch (IllegalArgumentException e) {
      // falls through to the error below, which names the value
    }
    throw invalid("lease_id: '" + shown(value) + "' is not a lease id (a UUID such as "
        + "123e4567-e89b-12d3-a456-426614174000, as RequestService answered it)");
  }

  /** An operation id: a UUID, as RequestService with no_wait answered it. */
  public static UUID operationId(String value) {
    try {
      if (value.length() == 36) {
        return UUID.fromString(value);
      }
    } catch (IllegalArgumentException e) {
      // falls through to the error below, which names the value
    }
    throw invalid("operation_id: '" + shown(value) + "' is not an operation id (a UUID such as "
        + "123e4567-e89b-12d3-a456-426614174000, as RequestService with no_wait answered it)");
  }

  /**
   * A lease TTL in seconds, 1 to {@code max}; 0 (not given) means {@code whenAbsent}, which the
   * caller passes as 0 when the lease's own TTL applies.
   */
  public static int leaseTtl(String field, int value, int whenAbsent, int max) {
    if (value == 0) {
      return whenAbsent;
    }
    if (value < 1 || value > max) {
      throw invalid(field + ": " + value + " seconds is out of range (1 to " + max
          + "; 0 or unset for the default)");
    }
    return value;
  }

  public static int port(String field, int value) {
    if (value < 1 || value > 65535) {
      throw invalid(field + ": " + value + " is not a TCP port (1 to 65535)");
    }
    return value;
  }

  public static long range(String field, long value, long min, long max) {
    if (value < min || value > max) {
      throw invalid(field + ": " + value + " is out of range (" + min + " to " + max + ")");
    }
    return value;
  }

  public static String idempotencyKey(String value) {
    if (value.isEmpty()) {
      return null;
    }
    if (value.length() > MAX_KEY_LENGTH || value.chars().anyMatch(c -> c < 0x20 || c > 0x7e)) {
      throw invalid("idempotency_key: '" + shown(value) + "' must be 1 to " + MAX_KEY_LENGTH
          + " printable ASCII characters");
    }
    return value;
  }

  private static String matches(String field, String value, Pattern pattern, String expected) {
    if (value == null || value.isEmpty()) {
      throw invalid(field + " is required (" + expected + ")");
    }
    if (!pattern.matcher(value).matches()) {
      throw invalid(field + ": '" + shown(value) + "' is not valid (" + expected + ")");
    }
    return value;
  }

  /** The value as it can be shown back: bounded, control characters escaped. */
  public static String shown(String value) {
    return FarmException.shown(value);
  }

  private static FarmException.InvalidInput invalid(String message) {
    return new FarmException.InvalidInput(message);
  }
}
