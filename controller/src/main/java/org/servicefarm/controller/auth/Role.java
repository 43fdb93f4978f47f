package org.servicefarm.controller.auth;

import java.util.Locale;
import org.servicefarm.controller.model.FarmException;

/**
 * Who a caller is to the farm. Clients and admins hold tokens ({@code api_tokens.role}); agents
 * hold none and are known by their transport (a verified client certificate, or plaintext mode).
 */
public enum Role {
  CLIENT,
  ADMIN,
  /**
   * A farm gateway: may request, renew and release leases and watch the routing table, nothing
   * else (not even list services or read a VM), so a stolen gateway token reaches no admin call.
   */
  GATEWAY,
  /** An agent on its control stream: certified over TLS with a client CA, anyone in plaintext. */
  AGENT,
  /**
   * An agent whose verified client certificate names its host. Only it (or an admin) reaches the
   * image store, whose blobs include other VMs' archives: plaintext proves nothing.
   */
  CERTIFIED_AGENT;

  /** The role as stored in {@code api_tokens.role} and shown to people. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * The token role named by {@code label} ("client", "admin" or "gateway").
   *
   * @throws IllegalArgumentException naming the value when it is not a token role
   */
  public static Role ofToken(String label) {
    for (Role r : new Role[] {CLIENT, ADMIN, GATEWAY}) {
      if (r.label().equals(label)) {
        return r;
      }
    }
    throw new IllegalArgumentException(
        "role '" + (label == null ? "null" : FarmException.shown(label))
            + "' is not a token role; expected client, admin or gateway");
  }
}
