package org.servicefarm.agent.link;

import io.grpc.netty.NettyChannelBuilder;
import java.util.concurrent.TimeUnit;

/**
 * The one place channels to the controller are built. Plaintext for now; mutual TLS will be
 * configured here and nowhere else.
 */
public final class ControllerChannels {

  /** Pings an idle stream so a controller that vanished without closing it is noticed. */
  private static final long KEEPALIVE_SECONDS = 30;

  private ControllerChannels() {}

  public static ChannelOpener plaintext() {
    return target -> NettyChannelBuilder.forTarget(target)
        .usePlaintext()
        .keepAliveTime(KEEPALIVE_SECONDS, TimeUnit.SECONDS)
        .keepAliveWithoutCalls(false)
        .build();
  }
}
