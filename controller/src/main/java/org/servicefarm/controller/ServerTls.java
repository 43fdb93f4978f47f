package org.servicefarm.controller;

import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyServerBuilder;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import javax.net.ssl.SSLException;
import org.servicefarm.controller.auth.AgentIdentity;

/**
 * The controller's TLS: its certificate chain and PKCS#8 key (PEM), and optionally the CA whose
 * client certificates it verifies. Client certificates are OPTIONAL at the handshake because SDK
 * clients prove who they are with tokens; {@link AgentIdentity} requires one on AgentControl.
 */
public record ServerTls(Path certificateChain, Path privateKey, Optional<Path> clientCa) {

  /** @throws IllegalArgumentException naming a file that is missing */
  public ServerTls {
    requireFile("--tls-cert", certificateChain);
    requireFile("--tls-key", privateKey);
    clientCa.ifPresent(ca -> requireFile("--tls-client-ca", ca));
  }

  /** Serves TLS only on the builder: once configured, plaintext is off. */
  public NettyServerBuilder applyTo(NettyServerBuilder builder) {
    return builder.sslContext(sslContext());
  }

  /** Who may register which host over this TLS. */
  public AgentIdentity agentIdentity() {
    return new AgentIdentity(clientCa.isPresent());
  }

  SslContext sslContext() {
    try {
      SslContextBuilder ssl = GrpcSslContexts.forServer(
          certificateChain.toFile(), privateKey.toFile());
      if (clientCa.isPresent()) {
        ssl.trustManager(clientCa.get().toFile()).clientAuth(ClientAuth.OPTIONAL);
      }
      return ssl.build();
    } catch (SSLException | IllegalArgumentException e) {
      // Netty says what it could not parse, not in which file; name all three.
      throw new IllegalArgumentException("cannot use --tls-cert " + certificateChain
          + " / --tls-key " + privateKey + clientCa.map(ca -> " / --tls-client-ca " + ca).orElse("")
          + ": " + e.getMessage(), e);
    }
  }

  /**
   * The same certificate and key for the HTTP endpoint (dashboard, metrics): HTTPS without client
   * certificates, since its callers prove who they are with tokens.
   */
  public SslContext httpsContext() {
    try {
      SslContext ssl = SslContextBuilder.forServer(certificateChain.toFile(), privateKey.toFile())
          .sslProvider(io.netty.handler.ssl.SslProvider.JDK).build();
      return ssl;
    } catch (SSLException | IllegalArgumentException e) {
      throw new IllegalArgumentException("cannot serve HTTPS with --tls-cert " + certificateChain
          + " / --tls-key " + privateKey + ": " + e.getMessage(), e);
    }
  }

  private static void requireFile(String option, Path file) {
    if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
      throw new IllegalArgumentException(option + " " + file + " is not a readable file");
    }
  }
}
