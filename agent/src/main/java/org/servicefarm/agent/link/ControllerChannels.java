package org.servicefarm.agent.link;

import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.SslContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;

/**
 * The one place channels to the controller are built: mutual TLS when the agent has a CA and a
 * certificate (the control stream and the image store both use it), plaintext otherwise.
 */
public final class ControllerChannels {

  /**
   * Pings a stream the controller has been silent on, and gives it up when the ping is not
   * answered in time, so a connection that died without a close (a network partition, a
   * controller host gone) is redialled within about 20 s instead of waiting out TCP's
   * retransmissions for many minutes. 10 s is grpc-java's smallest keepalive time; the controller
   * permits pings this often (ControllerMain, permitKeepAliveTime).
   */
  private static final long KEEPALIVE_SECONDS = 10;
  private static final long KEEPALIVE_TIMEOUT_SECONDS = 10;

  private ControllerChannels() {}

  public static ChannelOpener plaintext() {
    return target -> NettyChannelBuilder.forTarget(target)
        .usePlaintext()
        .keepAliveTime(KEEPALIVE_SECONDS, TimeUnit.SECONDS)
        .keepAliveTimeout(KEEPALIVE_TIMEOUT_SECONDS, TimeUnit.SECONDS)
        .keepAliveWithoutCalls(false)
        .build();
  }

  /**
   * TLS that trusts only controllers whose certificate chains to caCertificate (and names the
   * address dialled), presenting the agent's certificate so the controller knows its host.
   *
   * @throws IllegalArgumentException naming a file that is missing or unusable
   */
  public static ChannelOpener mutualTls(Path caCertificate, Path certificateChain, Path key) {
    SslContext ssl = sslContext(caCertificate, certificateChain, key);
    return target -> NettyChannelBuilder.forTarget(target)
        .sslContext(ssl)
        .keepAliveTime(KEEPALIVE_SECONDS, TimeUnit.SECONDS)
        .keepAliveTimeout(KEEPALIVE_TIMEOUT_SECONDS, TimeUnit.SECONDS)
        .keepAliveWithoutCalls(false)
        .build();
  }

  /**
   * True when every target is a loopback address, judged from the text (localhost, 127.x, [::1]):
   * plaintext anywhere else needs the operator to say so.
   */
  public static boolean allLoopback(List<String> targets) {
    return targets.stream().allMatch(ControllerChannels::isLoopback);
  }

  static boolean isLoopback(String target) {
    int colon = target.lastIndexOf(':');
    String host = colon > 0 ? target.substring(0, colon) : target;
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    return host.equalsIgnoreCase("localhost") || host.equals("::1")
        || host.matches("127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");
  }

  private static SslContext sslContext(Path caCertificate, Path certificateChain, Path key) {
    requireFile("--tls-ca", caCertificate);
    requireFile("--tls-cert", certificateChain);
    requireFile("--tls-key", key);
    try {
      return GrpcSslContexts.forClient()
          .trustManager(caCertificate.toFile())
          .keyManager(certificateChain.toFile(), key.toFile())
          .build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new IllegalArgumentException("cannot use --tls-ca " + caCertificate + ", --tls-cert "
          + certificateChain + ", --tls-key " + key + ": " + e.getMessage(), e);
    }
  }

  private static void requireFile(String option, Path file) {
    if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
      throw new IllegalArgumentException(option + " " + file + " is not a readable file");
    }
  }
}
