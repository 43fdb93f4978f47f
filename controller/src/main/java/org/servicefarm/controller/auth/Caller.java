package org.servicefarm.controller.auth;

import io.grpc.Context;
import java.util.UUID;

/**
 * Who the current call is, as {@link AuthInterceptor} established it: the id of its bearer token
 * or an agent. Things a caller owns (idempotency keys, the operations they name) are scoped by it.
 * Without authentication ({@code --auth none}) every caller is {@link #ANONYMOUS}.
 */
public final class Caller {
  public static final String ANONYMOUS = "anonymous";
  public static final String AGENT = "agent";
  static final Context.Key<String> KEY = Context.key("servicefarm-caller");
  static final Context.Key<Boolean> ADMIN = Context.key("servicefarm-caller-admin");

  private Caller() {}

  /** The caller of the current call: {@code token:<id>}, {@code agent} or {@code anonymous}. */
  public static String current() {
    String caller = KEY.get();
    return caller == null ? ANONYMOUS : caller;
  }

  /** Whether the current call was made with an admin token, or without authentication. */
  public static boolean currentIsAdmin() {
    return KEY.get() == null || Boolean.TRUE.equals(ADMIN.get());
  }

  static String ofToken(UUID tokenId) {
    return "token:" + tokenId;
  }
}
