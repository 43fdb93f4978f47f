package org.servicefarm.controller.auth;

import io.grpc.ServerCall;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Tells whether a call comes from a farm agent. Agents hold no token: over TLS an agent is known
 * by the host id of its verified client certificate, which the TLS layer puts into the call's
 * gRPC {@code Context} before authorization runs; in plaintext mode (loopback, tests, the
 * development farm) every caller may act as an agent, as before authentication existed.
 */
@FunctionalInterface
public interface AgentRecognizer {

  /** True when the call may act as an agent. */
  boolean isAgent(ServerCall<?, ?> call);

  /** Plaintext mode: nothing on the wire can prove who an agent is, so none is asked to. */
  static AgentRecognizer anyCaller() {
    return call -> true;
  }

  /** TLS mode: only a caller whose certificate was verified and named a host. */
  static AgentRecognizer verifiedHostId(Supplier<Optional<String>> verifiedHostIdOfCurrentCall) {
    return call -> verifiedHostIdOfCurrentCall.get().isPresent();
  }
}
