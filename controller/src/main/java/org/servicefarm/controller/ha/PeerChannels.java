package org.servicefarm.controller.ha;

import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import javax.net.ssl.SSLException;

/**
 * Channels from a follower to the leading controller, one per address, kept while the process
 * runs. Plaintext when this controller serves plaintext; otherwise TLS, verifying the leader's
 * certificate against the farm's CA (the one that signs every controller's and agent's).
 */
public final class PeerChannels implements Function<String, Channel>, AutoCloseable {
  private final Optional<Path> trustedCa; // empty: plaintext
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();

  private PeerChannels(Optional<Path> trustedCa) {
    this.trustedCa = trustedCa;
  }

  public static PeerChannels plaintext() {
    return new PeerChannels(Optional.empty());
  }

  /** @param farmCa PEM of the CA that signed the controllers' certificates */
  public static PeerChannels tls(Path farmCa) {
    return new PeerChannels(Optional.of(farmCa));
  }

  @Override
  public Channel apply(String address) {
    return channels.computeIfAbsent(address, this::open);
  }

  private ManagedChannel open(String address) {
    NettyChannelBuilder builder = NettyChannelBuilder.forTarget(address)
        .maxInboundMessageSize(4 * 1024 * 1024);
    if (trustedCa.isEmpty()) {
      return builder.usePlaintext().build();
    }
    try {
      return builder.sslContext(GrpcSslContexts.forClient()
          .trustManager(trustedCa.get().toFile()).build()).build();
    } catch (SSLException e) {
      throw new IllegalStateException("cannot use " + trustedCa.get() + " to verify the leader"
          + " at " + address + ": " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    for (ManagedChannel c : channels.values()) {
      c.shutdown();
      try {
        c.awaitTermination(2, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
