package org.servicefarm.controller.api;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import org.servicefarm.api.v1.GatewayRoutesGrpc;
import org.servicefarm.api.v1.RouteTable;
import org.servicefarm.api.v1.WatchRoutesRequest;
import org.servicefarm.controller.routes.RouteWatches;

/** What gateways keep their routing table from: a stream of whole tables. */
public final class GatewayRouteService extends GatewayRoutesGrpc.GatewayRoutesImplBase {
  private final RouteWatches watches;

  public GatewayRouteService(RouteWatches watches) {
    this.watches = watches;
  }

  @Override
  public void watchRoutes(WatchRoutesRequest request, StreamObserver<RouteTable> out) {
    watches.watch((ServerCallStreamObserver<RouteTable>) out);
  }
}
