package org.servicefarm.controller.auth;

import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.List;
import java.util.function.Function;

/**
 * How the controller authenticates calls: whether tokens are required, how agents are
 * recognized, and how fast one caller may send. Agents are recognized by a verified client
 * certificate naming a host whenever the server verifies client certificates; without that
 * (plaintext, or TLS without a client CA) nothing on the wire can tell an agent, so agent calls
 * are accepted as they were before tokens.
 *
 * @param rateLimit requests per token (with tokens) or per peer address (without)
 */
public record AuthSettings(boolean tokensRequired, AgentRecognizer agents,
    RequestRateLimiter.Limit rateLimit) {

  /** Tokens for clients and admins; agents by certificate when certificates are verified. */
  public static AuthSettings tokens(boolean clientCertificatesVerified) {
    return new AuthSettings(true, clientCertificatesVerified
        ? AgentRecognizer.verifiedHostId(AgentIdentity::certifiedHost)
        : AgentRecognizer.anyCaller(), RequestRateLimiter.Limit.DEFAULT);
  }

  /** No authentication at all ({@code --auth none}: plaintext on loopback, for experiments). */
  public static AuthSettings none() {
    return new AuthSettings(false, AgentRecognizer.anyCaller(), RequestRateLimiter.Limit.DEFAULT);
  }

  public AuthSettings withRateLimit(RequestRateLimiter.Limit limit) {
    return new AuthSettings(tokensRequired, agents, limit);
  }

  /**
   * The interceptors that enforce these settings on every service of one server.
   *
   * @param failures how a failure to check a call becomes its status (api.StatusMapper)
   */
  public List<ServerInterceptor> interceptors(TokenVerifier verifier,
      Function<Throwable, Status> failures) {
    RequestRateLimiter limiter = new RequestRateLimiter(rateLimit, System::nanoTime);
    if (tokensRequired) {
      return List.of(new AuthInterceptor(verifier, agents, limiter, failures));
    }
    return rateLimit.off() ? List.of() : List.of(new PeerRateLimitInterceptor(limiter));
  }
}
