package org.servicefarm.client;

import io.grpc.ManagedChannel;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import javax.net.ssl.SSLException;

/** Opens the Netty channel that {@link FarmClientOptions} describe. */
final class NettyChannels {

  private NettyChannels() {}

  static ManagedChannel open(FarmClientOptions options) {
    NettyChannelBuilder builder = NettyChannelBuilder.forAddress(options.host(), options.port());
    if (options.usesPlaintext()) {
      builder.usePlaintext();
    } else if (options.trustCertificate().isPresent()) {
      builder.sslContext(sslContextTrusting(options.trustCertificate().get()));
    } else {
      builder.useTransportSecurity(); // the JVM's trusted roots
    }
    return builder.build();
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
