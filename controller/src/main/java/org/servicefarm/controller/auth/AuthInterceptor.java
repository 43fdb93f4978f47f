package org.servicefarm.controller.auth;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import org.servicefarm.controller.api.StatusMapper;
import org.servicefarm.controller.audit.CallAudit;
import org.servicefarm.controller.hosts.AgentIdentity;

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

  /** @param limiter counts each call of a live token; agents and open methods are not counted */
  public AuthInterceptor(TokenVerifier verifier, AgentRecognizer agents,
      RequestRateLimiter limiter) {
    this.verifier = verifier;
    this.agents = agents;
    this.limiter = limiter;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    Optional<Status> refusal = refusal(method, call, headers);
    if (refusal.isEmpty()) {
      return next.startCall(call, headers);
    }
    LOG.log(Level.FINE, () -> "refused " + method + ": " + refusal.get().getDescription());
    if (AUDITED_REFUSALS.contains(refusal.get().getCode())) {
      CallAudit.refusedByAccessControl();
    }
    call.close(refusal.get(), RequestRateLimiter.trailersFor(refusal.get()));
    return new ServerCall.Listener<>() {};
  }

  private Optional<Status> refusal(String method, ServerCall<?, ?> call, Metadata headers) {
    try {
      return check(method, call, headers.get(AUTHORIZATION));
    } catch (RuntimeException e) {
      // The token table could not be read (database down): answer as any other call would.
      return Optional.of(StatusMapper.toStatus(e));
    }
  }

  private Optional<Status> check(String method, ServerCall<?, ?> call, String authorization) {
    Optional<MethodRoles.Access> access = MethodRoles.of(method);
    if (access.isEmpty()) {
      return Optional.of(Status.PERMISSION_DENIED.withDescription(
          "method " + method + " is open to no role"));
    }
    MethodRoles.Access allowed = access.get();
    if (allowed.open()) {
      return Optional.empty();
    }
    if (allowed.allows(Role.AGENT) && agents.isAgent(call)) {
      CallAudit.identified(CallAudit.Caller.agent(AgentIdentity.certifiedHost().orElse("unverified")));
      return Optional.empty();
    }
    if (authorization == null) {
      return Optional.of(Status.UNAUTHENTICATED.withDescription("no bearer token: " + method
          + " needs an 'authorization: Bearer <token>' header of role " + roles(allowed)));
    }
    if (!authorization.startsWith(BEARER)) {
      return Optional.of(Status.UNAUTHENTICATED.withDescription(
          "the authorization header is not 'Bearer <token>'"));
    }
    TokenVerifier.Verdict verdict = verifier.verify(authorization.substring(BEARER.length()).strip());
    if (verdict instanceof TokenVerifier.Verdict.Revoked revoked) {
      CallAudit.identified(CallAudit.Caller.anonymous("revoked token '" + revoked.name() + "'"));
      return Optional.of(Status.UNAUTHENTICATED.withDescription(
          "bearer token '" + revoked.name() + "' was revoked"));
    }
    if (!(verdict instanceof TokenVerifier.Verdict.Live live)) {
      CallAudit.identified(CallAudit.Caller.anonymous("unknown token"));
      return Optional.of(Status.UNAUTHENTICATED.withDescription(
          "bearer token is unknown to this farm"));
    }
    CallAudit.identified(CallAudit.Caller.token(live.id(), live.name()));
    if (!allowed.allows(live.role())) {
      return Optional.of(Status.PERMISSION_DENIED.withDescription(
          method + " needs role " + roles(allowed) + "; token '" + live.name() + "' has role "
              + live.role().label()));
    }
    return limiter.refusal("token:" + live.id(), "token '" + live.name() + "'");
  }

  private static String roles(MethodRoles.Access allowed) {
    return allowed.roles().stream().sorted().map(Role::label).collect(Collectors.joining(" or "));
  }
}
