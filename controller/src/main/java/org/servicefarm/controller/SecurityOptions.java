package org.servicefarm.controller;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Optional;
import java.util.logging.Logger;
import org.servicefarm.controller.auth.AdminTokenBootstrap;
import org.servicefarm.controller.auth.AuthSettings;
import org.servicefarm.controller.auth.RequestRateLimiter;
import org.servicefarm.controller.web.WebAccess;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The controller's options for who may reach it and how: TLS (and agents' certificates),
 * plaintext off loopback, bearer tokens and the per-token rate limit. Each combination that would
 * expose the farm is refused at start, naming the flags.
 */
final class SecurityOptions {
  private static final Logger LOG = Logger.getLogger(SecurityOptions.class.getName());

  @Spec(Spec.Target.MIXEE)
  CommandSpec controller;

  @Option(names = "--insecure", description = "allow plaintext gRPC on a non-loopback address")
  boolean insecure;

  @Option(names = "--tls-cert", paramLabel = "FILE", description = "PEM certificate chain to "
      + "serve TLS with (farmctl pki controller); with it, plaintext is off")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE", description = "PEM PKCS#8 key of --tls-cert")
  Path tlsKey;

  @Option(names = "--tls-client-ca", paramLabel = "FILE", description = "PEM CA that signs agents'"
      + " certificates; agents must then present one naming their host id")
  Path tlsClientCa;

  /** Whether calls must carry a bearer token ({@code none} is for experiments on loopback). */
  enum AuthMode { TOKENS, NONE }

  @Option(names = "--auth", paramLabel = "MODE", defaultValue = "tokens",
      description = "tokens: clients and admins need a bearer token (the first admin token is"
          + " written to <data-dir>/admin.token); none: no authentication, allowed only in"
          + " plaintext on a loopback address (default: ${DEFAULT-VALUE})")
  AuthMode auth;

  @Option(names = "--rate-limit", paramLabel = "REQUESTS_PER_SECOND", defaultValue = "200",
      description = "requests per second one token (or, with --auth none, one peer address) may"
          + " send, with bursts of twice that; a stream counts once; 0 turns the limit off"
          + " (default: ${DEFAULT-VALUE})")
  int rateLimit;

  /** The TLS the flags ask for, checked before anything starts; empty for plaintext. */
  Optional<ServerTls> serverTls() {
    if (tlsCert == null && tlsKey == null && tlsClientCa == null) {
      return Optional.empty();
    }
    if (tlsCert == null || tlsKey == null) {
      throw refused("TLS needs both --tls-cert and --tls-key (got " + (tlsCert != null
          ? "--tls-cert " + tlsCert : "--tls-key " + tlsKey) + (tlsClientCa != null
          ? ", --tls-client-ca " + tlsClientCa : "") + ")");
    }
    try {
      ServerTls tls = new ServerTls(tlsCert, tlsKey, Optional.ofNullable(tlsClientCa));
      tls.sslContext(); // a bad file fails here, before the database starts
      return Optional.of(tls);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(controller.commandLine(), e.getMessage(), e);
    }
  }

  /** Refuses plaintext gRPC off loopback without --insecure, and --auth none but there. */
  void checkGrpcListen(String listen, InetSocketAddress address, Optional<ServerTls> tls) {
    boolean loopback = address.getAddress().isLoopbackAddress();
    if (tls.isEmpty() && !loopback && !insecure) {
      throw refused("--listen " + listen + " is not a loopback address; plaintext there needs"
          + " --insecure");
    }
    if (auth == AuthMode.NONE && (tls.isPresent() || !loopback)) {
      throw refused("--auth none is allowed only in plaintext on a loopback address, not with"
          + " --listen " + listen + (tls.isPresent() ? " and TLS" : ""));
    }
  }

  /** Refuses a plaintext HTTP endpoint off loopback without --insecure. */
  void checkHttpListen(String httpListen, InetSocketAddress address, Optional<ServerTls> tls) {
    if (tls.isEmpty() && !address.getAddress().isLoopbackAddress() && !insecure) {
      // The dashboard's sign-in carries the admin token: it must not cross hosts in plaintext.
      throw refused("--http-listen " + httpListen + " is not a loopback address; without"
          + " --tls-cert the HTTP endpoint is plaintext, which there needs --insecure");
    }
  }

  /** Who may call, with what rate: the first admin token is written to the data dir. */
  AuthSettings authSettings(Controller controller, Path dataDir, Optional<ServerTls> tls)
      throws java.io.IOException {
    if (rateLimit < 0) {
      throw refused("--rate-limit " + rateLimit + ": give requests per second, or 0 for no"
          + " limit");
    }
    AuthSettings settings = AuthSettings.none();
    if (auth == AuthMode.TOKENS) {
      AdminTokenBootstrap.ensureAdmin(controller.tokens(), dataDir);
      settings = AuthSettings.tokens(tls.flatMap(ServerTls::clientCa).isPresent());
    } else {
      LOG.warning("--auth none: every caller may do everything; use only for experiments");
    }
    return settings.withRateLimit(RequestRateLimiter.Limit.perSecond(rateLimit));
  }

  /** Who may use the HTTP endpoint: admin tokens, or anyone with --auth none. */
  WebAccess webAccess(Controller controller) {
    return auth == AuthMode.TOKENS
        ? WebAccess.tokens(controller.tokens().verifier()::verify) : WebAccess.open();
  }

  private ParameterException refused(String message) {
    return new ParameterException(controller.commandLine(), message);
  }
}
