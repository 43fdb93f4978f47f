package org.servicefarm.client;

import io.grpc.MethodDescriptor;
import java.time.Duration;
import java.util.List;
import org.servicefarm.api.v1.ApiToken;
import org.servicefarm.api.v1.CreateTokenRequest;
import org.servicefarm.api.v1.CreateTokenResponse;
import org.servicefarm.api.v1.ListTokensRequest;
import org.servicefarm.api.v1.RevokeTokenRequest;
import org.servicefarm.api.v1.TokenAdminGrpc;
import org.servicefarm.api.v1.TokenAdminGrpc.TokenAdminBlockingStub;

/**
 * Bearer token administration (admins only), from {@link FarmClient#tokens()}. Listing is retried;
 * creating and revoking are not, since a repeat would make a second token or fail as revoked.
 */
public final class TokenCalls {
  private final TokenAdminBlockingStub stub;
  private final UnaryCaller caller;
  private final Duration callDeadline;

  TokenCalls(TokenAdminBlockingStub stub, UnaryCaller caller, Duration callDeadline) {
    this.stub = stub;
    this.caller = caller;
    this.callDeadline = callDeadline;
  }

  /** A new token of role "client" or "admin"; the answer holds its secret, shown only now. */
  public CreateTokenResponse create(String name, String role) {
    return create(name, role, "");
  }

  /**
   * As {@link #create(String, String)}, bound to a project ("": the caller's project; for a
   * farm-wide caller, "default" for a client token and farm-wide for an admin token).
   */
  public CreateTokenResponse create(String name, String role, String project) {
    CreateTokenRequest request = CreateTokenRequest.newBuilder().setName(name).setRole(role)
        .setProject(project).build();
    return caller.blocking(plan(TokenAdminGrpc.getCreateTokenMethod(), name, false),
        deadline -> stub.withDeadline(deadline).createToken(request));
  }

  /** Every token, live and revoked, oldest first; never their secrets. */
  public List<ApiToken> list() {
    return caller.blocking(plan(TokenAdminGrpc.getListTokensMethod(), "", true),
        deadline -> stub.withDeadline(deadline)
            .listTokens(ListTokensRequest.getDefaultInstance()).getTokensList());
  }

  /** Revokes the token with that id, or the live token of that name. */
  public ApiToken revoke(String idOrName) {
    RevokeTokenRequest request = RevokeTokenRequest.newBuilder().setIdOrName(idOrName).build();
    return caller.blocking(plan(TokenAdminGrpc.getRevokeTokenMethod(), idOrName, false),
        deadline -> stub.withDeadline(deadline).revokeToken(request));
  }

  private CallPlan plan(MethodDescriptor<?, ?> method, String subject, boolean retried) {
    return new CallPlan(method, subject, retried, callDeadline);
  }
}
