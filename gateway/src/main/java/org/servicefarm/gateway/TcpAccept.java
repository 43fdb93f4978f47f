package org.servicefarm.gateway;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.net.InetSocketAddress;

/**
 * A connection on a service's own gateway port: the port names the service. Nothing is read from
 * the client until it is spliced (autoRead is off), so what it sends while held waits in the
 * kernel's socket buffer, bounded by it, and reaches the VM first.
 */
final class TcpAccept extends ChannelInboundHandlerAdapter {
  private final RouteTable table;
  private final Router router;
  private final Refusals refusals;

  TcpAccept(RouteTable table, Router router) {
    this.table = table;
    this.router = router;
    this.refusals = router.refusals();
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    long accepted = System.nanoTime();
    int port = ((InetSocketAddress) ctx.channel().localAddress()).getPort();
    ctx.pipeline().remove(this);
    table.port(port).ifPresentOrElse(
        route -> router.route(ctx.channel(), route.service(), null, false, accepted),
        () -> refusals.refuse(ctx.channel(), GatewayMetrics.NO_SERVICE, new Refusal.Reason(
            Refusal.UNKNOWN_SERVICE, "no service has gateway port " + port + " now"), false));
  }
}
