package org.servicefarm.client;

import java.util.Objects;

/** Checks of the caller's arguments, before anything is sent. */
final class Arguments {
  private Arguments() {}

  /** The value, which must be neither null nor blank; {@code what} names it in the error. */
  static String requireText(String value, String what) {
    Objects.requireNonNull(value, what);
    if (value.isBlank()) {
      throw new IllegalArgumentException(what + " must not be blank");
    }
    return value;
  }
}
