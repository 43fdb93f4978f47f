package org.servicefarm.controller.auth;

import io.grpc.ServerCall;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Tells whether a call comes from a farm agent. Agents hold no token: over TLS an agent is known
 * by the host id of its verified client certificate, which the TLS layer puts into the call's
 * gRPC {@code Context} before authorization runs; in plaintext mode (loopback, tests, the
 * development farm) every caller may act as an agent on the control stream, as before
 * authentication existed, but only a certified agent (or an admin token) reaches the image store.
 */
public interface AgentRecognizer {

  /** The host a verified client certificate names, when the call has one. */
  Optional<String> certifiedHost(ServerCall<?, ?> call);

  /** True when the call may act as an agent on the control stream. */
  boolean isAgent(ServerCall<?, ?> call);

  /** Plaintext mode: nothing on the wire can prove who an agent is, so none is asked to. */
  static AgentRecognizer anyCaller() {
    return new AgentRecognizer() {
      @Override
      public Optional<String> certifiedHost(ServerCall<?, ?> call) {
        return Optional.empty();
      }

      @Override
      public boolean isAgent(ServerCall<?, ?> call) {
        return true;
      }
    };
  }

  /** TLS mode: only a caller whose certificate was verified and named a host. */
  static AgentRecognizer verifiedHostId(Supplier<Optional<String>> verifiedHostIdOfCurrentCall) {
    return new AgentRecognizer() {
      @Override
      public Optional<String> certifiedHost(ServerCall<?, ?> call) {
        return verifiedHostIdOfCurrentCall.get();
      }

      @Override
      public boolean isAgent(ServerCall<?, ?> call) {
        return certifiedHost(call).isPresent();
      }
    };
  }
}
