package org.servicefarm.controller.auth;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import org.servicefarm.controller.audit.CallAudit;
import org.servicefarm.controller.auth.AgentIdentity;

/**
 * The one place that decides whether a call may proceed: who the caller is (a bearer token's
 * role, or an agent by {@link AgentRecognizer}) against what {@link MethodRoles} allows. A refused
 * call never reaches a service, nor does a token's call beyond its rate limit. Messages say what
 * was wrong, never the token.
 */
public final class AuthInterceptor implements ServerInterceptor {
  private static final Logger LOG = Logger.getLogger(AuthInterceptor.class.getName());
  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final String BEARER = "Bearer ";

  /** What access control refuses with; other codes (a database outage) are no refusal. */
  private static final Set<Status.Code> AUDITED_REFUSALS = EnumSet.of(Status.Code.UNAUTHENTICATED,
      Status.Code.PERMISSION_DENIED, Status.Code.RESOURCE_EXHAUSTED);

  private final TokenVerifier verifier;
  private final AgentRecognizer agents;
  private final RequestRateLimiter limiter;
  private final RevocableStreams streams;

  private final Function<Throwable, Status> failures;

  /**
   * @param limiter counts each call of a live token; agents and open methods are not counted
   * @param failures the controller's one mapping of failures to statuses (api.StatusMapper), for
   *     a token table that cannot be read
   */
  public AuthInterceptor(TokenVerifier verifier, AgentRecognizer agents,
      RequestRateLimiter limiter, Function<Throwable, Status> failures) {
    this.verifier = verifier;
    this.failures = failures;
    this.agents = agents;
    this.limiter = limiter;
    this.streams = new RevocableStreams(verifier::isLive);
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    Checked checked = checked(method, call, headers);
    if (checked.refusal().isEmpty()) {
      Context context = Context.current().withValue(Caller.KEY, checked.caller())
          .withValue(Caller.ADMIN, checked.admin())
          .withValue(Caller.ROLE, checked.role())
          .withValue(Caller.TOKEN_PROJECT,
              checked.token() == null ? null : checked.token().project());
      if (checked.token() == null || call.getMethodDescriptor().getType().serverSendsOneMessage()) {
        return Contexts.interceptCall(context, call, headers, next);
      }
      // A stream outlives the check made as it opened: it ends when its token is revoked.
      RevocableStreams.Revocable<Q, R> tracked =
          streams.track(checked.token().id(), checked.token().name(), call);
      return tracked.listen(Contexts.interceptCall(context, tracked, headers, next));
    }
    Status refusal = checked.refusal().get();
    LOG.log(Level.FINE, () -> "refused " + method + ": " + refusal.getDescription());
    if (AUDITED_REFUSALS.contains(refusal.getCode())) {
      CallAudit.refusedByAccessControl();
    }
    call.close(refusal, RequestRateLimiter.trailersFor(refusal));
    return new ServerCall.Listener<>() {};
  }

  /** A call let through (no refusal) with who made it and its live token if any, or refused. */
  private record Checked(Optional<Status> refusal, String caller, boolean admin,
      TokenVerifier.Verdict.Live token, Role role) {
    static Checked refused(Status status) {
      return new Checked(Optional.of(status), null, false, null, null);
    }

    static Checked of(Optional<Status> status, String caller, boolean admin) {
      return new Checked(status, caller, admin, null, null);
    }
  }

  private Checked checked(String method, ServerCall<?, ?> call, Metadata headers) {
    try {
      return check(method, call, headers.get(AUTHORIZATION));
    } catch (RuntimeException e) {
      // The token table could not be read (database down): answer as any other call would.
      return Checked.refused(failures.apply(e));
    }
  }

  private Checked check(String method, ServerCall<?, ?> call, String authorization) {
    Optional<MethodRoles.Access> access = MethodRoles.of(method);
    if (access.isEmpty()) {
      return Checked.refused(Status.PERMISSION_DENIED.withDescription(
          "method " + method + " is open to no role"));
    }
    MethodRoles.Access allowed = access.get();
    if (allowed.open()) {
      return Checked.of(Optional.empty(), Caller.ANONYMOUS, false);
    }
    if (allowed.allows(Role.AGENT) && agents.isAgent(call)) {
      CallAudit.identified(CallAudit.Caller.agent(AgentIdentity.certifiedHost().orElse("unverified")));
      return Checked.of(Optional.empty(), Caller.AGENT, false);
    }
    Optional<String> certified = agents.certifiedHost(call);
    if (allowed.allows(Role.CERTIFIED_AGENT) && certified.isPresent()) {
      CallAudit.identified(CallAudit.Caller.agent(certified.get()));
      // Counted like a token's calls: an agent's uploads and fetches are bounded too.
      return Checked.of(limiter.refusal("agent:" + certified.get(),
          "the agent of host " + certified.get()), Caller.AGENT, false);
    }
    Optional<String> gateway = authorization == null ? AgentIdentity.certifiedGateway(call)
        : Optional.empty();
    if (gateway.isPresent()) {
      // A gateway's certificate is its credential: role gateway, nothing more.
      CallAudit.identified(CallAudit.Caller.gateway(gateway.get()));
      if (!allowed.allows(Role.GATEWAY)) {
        return Checked.refused(Status.PERMISSION_DENIED.withDescription(method + " needs role "
            + roles(allowed) + "; gateway certificate '" + gateway.get() + "' has role "
            + Role.GATEWAY.label()));
      }
      return new Checked(limiter.refusal("gateway:" + gateway.get(),
          "gateway '" + gateway.get() + "'"), "gateway:" + gateway.get(), false, null,
          Role.GATEWAY);
    }
    if (authorization == null && allowed.allows(Role.CERTIFIED_AGENT)) {
      return Checked.refused(Status.UNAUTHENTICATED.withDescription(method + " needs an agent's"
          + " client certificate (controller --tls-client-ca, agent --tls-cert) or an admin"
          + " bearer token (agent --token-file)"));
    }
    if (authorization == null) {
      return Checked.refused(Status.UNAUTHENTICATED.withDescription("no bearer token: " + method
          + " needs an 'authorization: Bearer <token>' header of role " + roles(allowed)));
    }
    if (!authorization.startsWith(BEARER)) {
      return Checked.refused(Status.UNAUTHENTICATED.withDescription(
          "the authorization header is not 'Bearer <token>'"));
    }
    TokenVerifier.Verdict verdict = verifier.verify(authorization.substring(BEARER.length()).strip());
    if (verdict instanceof TokenVerifier.Verdict.Revoked revoked) {
      CallAudit.identified(CallAudit.Caller.anonymous("revoked token '" + revoked.name() + "'"));
      return Checked.refused(Status.UNAUTHENTICATED.withDescription(
          "bearer token '" + revoked.name() + "' was revoked"));
    }
    if (!(verdict instanceof TokenVerifier.Verdict.Live live)) {
      CallAudit.identified(CallAudit.Caller.anonymous("unknown token"));
      return Checked.refused(Status.UNAUTHENTICATED.withDescription(
          "bearer token is unknown to this farm"));
    }
    CallAudit.identified(CallAudit.Caller.token(live.id(), live.name()));
    if (!allowed.allows(live.role())) {
      return Checked.refused(Status.PERMISSION_DENIED.withDescription(
          method + " needs role " + roles(allowed) + "; token '" + live.name() + "' has role "
              + live.role().label()));
    }
    return new Checked(limiter.refusal("token:" + live.id(), "token '" + live.name() + "'"),
        Caller.ofToken(live.id()), live.role() == Role.ADMIN, live, live.role());
  }

  private static String roles(MethodRoles.Access allowed) {
    return allowed.roles().stream().sorted().map(Role::label).collect(Collectors.joining(" or "));
  }
}
