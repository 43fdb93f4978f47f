package org.servicefarm.controller.audit;

import io.grpc.Context;
import java.util.Optional;
import java.util.UUID;

/**
 * What the audit trail learns about one call while it runs, carried in the call's gRPC
 * {@link Context}: who the caller is (told by authorization), whether access control refused it,
 * whether this controller served it (rather than forwarding it to the leader), and, for a
 * request, whether it changed the farm (told by the broker). Outside a call every method here
 * does nothing, so code below the API can report without knowing whether anyone listens.
 */
public final class CallAudit {
  static final Context.Key<CallAudit> KEY = Context.key("servicefarm-call-audit");

  /** Who made a call. */
  public record Caller(String kind, UUID tokenId, String name) {
    public static Caller token(UUID id, String name) {
      return new Caller("token", id, name);
    }

    /** An agent, by the host id its verified certificate names ("unverified" in plaintext). */
    public static Caller agent(String hostId) {
      return new Caller("agent", null, hostId);
    }

    /** A farm gateway, by the name its verified client certificate gives it. */
    public static Caller gateway(String name) {
      return new Caller("gateway", null, name);
    }

    /** A caller without a usable token, described (e.g. "no token", "unknown token"). */
    public static Caller anonymous(String description) {
      return new Caller("anonymous", null, description);
    }
  }

  private volatile Caller caller = Caller.anonymous("no token");
  private volatile boolean refused;
  private volatile boolean servedHere;
  private volatile String change;
  private volatile String target = "";
  private volatile String requestPath;

  CallAudit() {}

  /** The caller as authorization identified it. */
  public static void identified(Caller caller) {
    current().ifPresent(audit -> audit.caller = caller);
  }

  /** Access control refused the call: unauthenticated, permission denied or rate-limited. */
  public static void refusedByAccessControl() {
    current().ifPresent(audit -> audit.refused = true);
  }

  /** A request changed the farm (created or woke a VM); what it did goes into the record. */
  public static void changed(String what) {
    current().ifPresent(audit -> audit.change = what);
  }

  /**
   * How a request was answered: warm (a running VM), woke, restored, built (a new VM) or joined
   * (a VM another request is readying); the dashboard's time-to-ready plot groups by it.
   */
  public static void tookPath(String path) {
    current().ifPresent(audit -> audit.requestPath = path);
  }

  /** The path a request took, once the broker decided it. */
  public Optional<String> requestPath() {
    return Optional.ofNullable(requestPath);
  }

  public static Optional<CallAudit> current() {
    return Optional.ofNullable(KEY.get());
  }

  void servedHere() {
    servedHere = true;
  }

  void target(String value) {
    target = value;
  }

  Caller caller() {
    return caller;
  }

  boolean refused() {
    return refused;
  }

  boolean wasServedHere() {
    return servedHere;
  }

  Optional<String> change() {
    return Optional.ofNullable(change);
  }

  String target() {
    return target;
  }
}
