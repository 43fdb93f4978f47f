package org.servicefarm.client;

import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.nio.file.Path;
import javax.net.ssl.SSLException;

/** Opens the Netty channel that {@link FarmClientOptions} describe. */
final class NettyChannels {

  private NettyChannels() {}

  /**
   * The channel runs on an event loop of its own, one daemon thread (a channel's connection uses
   * one loop anyway), which closing the client stops; see {@link OwnedChannel}.
   */
  static OwnedChannel open(FarmClientOptions options) {
    EventLoopGroup eventLoop = new MultiThreadIoEventLoopGroup(1,
        new DefaultThreadFactory("servicefarm-client", true), NioIoHandler.newFactory());
    NettyChannelBuilder builder = NettyChannelBuilder.forAddress(options.host(), options.port())
        .eventLoopGroup(eventLoop).channelType(NioSocketChannel.class);
    if (options.usesPlaintext()) {
      builder.usePlaintext();
    } else if (options.trustCertificate().isPresent()) {
      builder.sslContext(sslContextTrusting(options.trustCertificate().get()));
    } else {
      builder.useTransportSecurity(); // the JVM's trusted roots
    }
    try {
      return new OwnedChannel(builder.build(), eventLoop);
    } catch (RuntimeException e) {
      eventLoop.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS);
      throw e;
    }
  }

  private static io.netty.handler.ssl.SslContext sslContextTrusting(Path caCertificate) {
    try {
      return GrpcSslContexts.forClient().trustManager(caCertificate.toFile()).build();
    } catch (SSLException | IllegalArgumentException e) {
      // Netty reports an unreadable or non-PEM file here; say which file.
      throw new IllegalArgumentException("trust certificate " + caCertificate
          + " is not a usable PEM CA certificate: " + e.getMessage(), e);
    }
  }
}
