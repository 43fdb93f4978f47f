package org.servicefarm.controller.api;

import io.grpc.stub.StreamObserver;
import org.servicefarm.api.v1.ApiToken;
import org.servicefarm.api.v1.CreateTokenRequest;
import org.servicefarm.api.v1.CreateTokenResponse;
import org.servicefarm.api.v1.ListTokensRequest;
import org.servicefarm.api.v1.ListTokensResponse;
import org.servicefarm.api.v1.RevokeTokenRequest;
import org.servicefarm.api.v1.TokenAdminGrpc;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.auth.Role;
import org.servicefarm.controller.auth.TokenRegistry;
import org.servicefarm.controller.model.ApiTokenRecord;

/** TokenAdmin: creating, listing and revoking bearer tokens (admins only, see MethodRoles). */
public final class TokenAdminService extends TokenAdminGrpc.TokenAdminImplBase {
  private final TokenRegistry registry;

  public TokenAdminService(TokenRegistry registry) {
    this.registry = registry;
  }

  @Override
  public void createToken(CreateTokenRequest request, StreamObserver<CreateTokenResponse> out) {
    Role role;
    try {
      role = Role.ofToken(request.getRole());
    } catch (IllegalArgumentException e) {
      throw new FarmException.InvalidInput(e.getMessage());
    }
    TokenRegistry.Issued issued = registry.create(request.getName(), role);
    out.onNext(CreateTokenResponse.newBuilder()
        .setToken(toProto(issued.record())).setSecret(issued.secret()).build());
    out.onCompleted();
  }

  @Override
  public void listTokens(ListTokensRequest request, StreamObserver<ListTokensResponse> out) {
    ListTokensResponse.Builder response = ListTokensResponse.newBuilder();
    registry.list().forEach(t -> response.addTokens(toProto(t)));
    out.onNext(response.build());
    out.onCompleted();
  }

  @Override
  public void revokeToken(RevokeTokenRequest request, StreamObserver<ApiToken> out) {
    if (request.getIdOrName().isBlank()) {
      throw new FarmException.InvalidInput("id_or_name is empty; give a token's id or name");
    }
    out.onNext(toProto(registry.revoke(request.getIdOrName())));
    out.onCompleted();
  }

  private static ApiToken toProto(ApiTokenRecord t) {
    ApiToken.Builder b = ApiToken.newBuilder().setId(t.id().toString()).setName(t.name())
        .setRole(t.role()).setCreatedAt(ProtoMapping.timestamp(t.createdAt()));
    if (t.revokedAt() != null) {
      b.setRevokedAt(ProtoMapping.timestamp(t.revokedAt()));
    }
    return b.build();
  }
}
