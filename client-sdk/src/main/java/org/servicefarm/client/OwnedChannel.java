package org.servicefarm.client;

import io.grpc.ManagedChannel;
import io.netty.channel.EventLoopGroup;
import java.util.concurrent.TimeUnit;

/**
 * A channel that {@link FarmClient#connect} opened, with the one event-loop thread it runs on:
 * closing stops both. A thread left waiting in the kernel (epoll) when the JVM exits holds the
 * exit for 300 ms, which was half of a farmctl call; stopping it first lets the JVM go at once.
 */
final class OwnedChannel {
  private final ManagedChannel channel;
  private final EventLoopGroup eventLoop;

  OwnedChannel(ManagedChannel channel, EventLoopGroup eventLoop) {
    this.channel = channel;
    this.eventLoop = eventLoop;
  }

  ManagedChannel channel() {
    return channel;
  }

  /** Waits briefly for calls in flight, then stops the channel and its thread. */
  void close() {
    channel.shutdown();
    try {
      if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
      // No quiet period: the channel is closed, so no task can come after this.
      eventLoop.shutdownGracefully(0, 5, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      channel.shutdownNow();
      eventLoop.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      Thread.currentThread().interrupt();
    }
  }
}
