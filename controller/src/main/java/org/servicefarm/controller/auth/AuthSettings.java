package org.servicefarm.controller.auth;

import org.servicefarm.controller.hosts.AgentIdentity;

/**
 * How the controller authenticates calls: whether tokens are required, and how agents are
 * recognized. Agents are recognized by a verified client certificate naming a host whenever the
 * server verifies client certificates; without that (plaintext, or TLS without a client CA)
 * nothing on the wire can tell an agent, so agent calls are accepted as they were before tokens.
 */
public record AuthSettings(boolean tokensRequired, AgentRecognizer agents) {

  /** Tokens for clients and admins; agents by certificate when certificates are verified. */
  public static AuthSettings tokens(boolean clientCertificatesVerified) {
    return new AuthSettings(true, clientCertificatesVerified
        ? AgentRecognizer.verifiedHostId(AgentIdentity::certifiedHost)
        : AgentRecognizer.anyCaller());
  }

  /** No authentication at all ({@code --auth none}: plaintext on loopback, for experiments). */
  public static AuthSettings none() {
    return new AuthSettings(false, AgentRecognizer.anyCaller());
  }
}
