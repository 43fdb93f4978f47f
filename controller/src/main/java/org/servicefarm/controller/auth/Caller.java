package org.servicefarm.controller.auth;

import io.grpc.Context;
import java.util.UUID;
import org.servicefarm.controller.model.ProjectScope;

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
  /** The role of the caller's token or gateway certificate; unset for agents and no caller. */
  static final Context.Key<Role> ROLE = Context.key("servicefarm-caller-role");
  /** The project the caller's token is bound to; unset for farm-wide tokens and no token. */
  static final Context.Key<String> TOKEN_PROJECT = Context.key("servicefarm-token-project");
  /** The project the call acts in, as {@link ProjectScopeInterceptor} settled it. */
  static final Context.Key<ProjectScope> SCOPE = Context.key("servicefarm-project-scope");

  private Caller() {}

  /**
   * The caller of the current call: {@code token:<id>}, {@code gateway:<name>} (a gateway's
   * certificate), {@code agent} or {@code anonymous}.
   */
  public static String current() {
    String caller = KEY.get();
    return caller == null ? ANONYMOUS : caller;
  }

  /** Whether the current call was made with an admin token, or without authentication. */
  public static boolean currentIsAdmin() {
    return KEY.get() == null || Boolean.TRUE.equals(ADMIN.get());
  }

  /**
   * The project the current call acts in: its token's, or the one a farm-wide caller named, or
   * the whole farm (also for calls that passed no interceptor, as in-process tests make).
   */
  public static ProjectScope scope() {
    ProjectScope scope = SCOPE.get();
    return scope == null ? ProjectScope.FARM : scope;
  }

  /**
   * Whether the current call may speak for a farm gateway: role gateway (token or certificate)
   * or admin, or no authentication at all.
   */
  public static boolean currentMayActAsGateway() {
    Role role = ROLE.get();
    return currentIsAdmin() || role == Role.GATEWAY;
  }

  /** The project the current call's token is bound to; null for a farm-wide token or none. */
  public static String tokenProject() {
    return TOKEN_PROJECT.get();
  }

  static String ofToken(UUID tokenId) {
    return "token:" + tokenId;
  }
}
