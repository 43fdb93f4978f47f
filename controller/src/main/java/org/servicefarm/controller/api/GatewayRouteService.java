package org.servicefarm.controller.api;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import org.servicefarm.api.v1.GatewayRoutesGrpc;
import org.servicefarm.api.v1.RouteTable;
import org.servicefarm.api.v1.WatchRoutesRequest;
import org.servicefarm.controller.auth.Caller;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.routes.RouteWatches;

/** What gateways keep their routing table from: a stream of whole tables. */
public final class GatewayRouteService extends GatewayRoutesGrpc.GatewayRoutesImplBase {
  private final RouteWatches watches;

  public GatewayRouteService(RouteWatches watches) {
    this.watches = watches;
  }

  /** The table names every project's services: only a farm-wide token may watch it. */
  @Override
  public void watchRoutes(WatchRoutesRequest request, StreamObserver<RouteTable> out) {
    if (!Caller.scope().farmWide()) {
      throw new FarmException.PermissionDenied("the routing table is farm-wide: a token bound to"
          + " project '" + Caller.scope().project() + "' cannot watch it; give the gateway a"
          + " farm-wide token of role gateway");
    }
    watches.watch((ServerCallStreamObserver<RouteTable>) out);
  }
}
