package org.servicefarm.controller.auth;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.servicefarm.api.v1.AgentControlGrpc;
import org.servicefarm.controller.model.FarmException;

/**
 * Which host a connection may speak for. An agent's client certificate names its host in a SAN
 * URI {@code servicefarm:host:ID} (as {@code farmctl pki agent} issues it); this interceptor reads
 * the certificate the TLS handshake verified and puts that host id into the call's Context, and
 * {@link #requireMayRegister} holds a Register to it. Without a certificate (plaintext on
 * loopback, or TLS without a client CA) the registered host id is trusted, as it always was.
 */
public final class AgentIdentity implements ServerInterceptor {
  /** The SAN URI prefix that carries the host id in an agent certificate. */
  public static final String HOST_URI_PREFIX = "servicefarm:host:";
  /** The SAN URI prefix that names a farm gateway, which is served as role gateway. */
  public static final String GATEWAY_URI_PREFIX = "servicefarm:gateway:";
  private static final int SAN_URI = 6; // GeneralName tag of a uniformResourceIdentifier

  private static final Context.Key<String> CERTIFIED_HOST = Context.key("servicefarm-agent-host");

  private final boolean certificateRequired;

  /**
   * @param certificateRequired true when the server verifies client certificates against a CA:
   *     then AgentControl without one is UNAUTHENTICATED
   */
  public AgentIdentity(boolean certificateRequired) {
    this.certificateRequired = certificateRequired;
  }

  /** Trusts the registered host id (plaintext, or TLS without client certificates). */
  public static AgentIdentity trustingRegistration() {
    return new AgentIdentity(false);
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    boolean agentCall = AgentControlGrpc.SERVICE_NAME.equals(
        call.getMethodDescriptor().getServiceName());
    Optional<X509Certificate> certificate = peerCertificate(call);
    if (certificate.isEmpty()) {
      if (agentCall && certificateRequired) {
        return refuse(call, Status.UNAUTHENTICATED.withDescription("AgentControl needs a client"
            + " certificate issued by the farm's CA (agent --tls-cert and --tls-key)"));
      }
      return next.startCall(call, headers);
    }
    Optional<String> hostId = hostIdOf(certificate.get());
    if (hostId.isEmpty()) {
      if (agentCall) {
        return refuse(call, Status.PERMISSION_DENIED.withDescription("certificate "
            + certificate.get().getSubjectX500Principal().getName() + " names no host (no "
            + HOST_URI_PREFIX + " URI); only an agent certificate may use AgentControl"));
      }
      return next.startCall(call, headers);
    }
    return Contexts.interceptCall(Context.current().withValue(CERTIFIED_HOST, hostId.get()),
        call, headers, next);
  }

  /**
   * Lets a stream register hostId only if its certificate names that host (or it has none).
   *
   * @throws FarmException.PermissionDenied naming both hosts
   */
  public static void requireMayRegister(String hostId) {
    String certified = CERTIFIED_HOST.get();
    if (certified != null && !certified.equals(hostId)) {
      throw new FarmException.PermissionDenied(
          "certificate is for host " + certified + ", not " + hostId);
    }
  }

  /** The host id the current call's verified client certificate names, if any. */
  public static Optional<String> certifiedHost() {
    return Optional.ofNullable(CERTIFIED_HOST.get());
  }

  /** The verified client certificate of the call's peer, when it presented one over TLS. */
  public static Optional<X509Certificate> peerCertificate(ServerCall<?, ?> call) {
    SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    if (session == null) {
      return Optional.empty(); // plaintext
    }
    Certificate[] chain;
    try {
      chain = session.getPeerCertificates();
    } catch (SSLPeerUnverifiedException noCertificate) {
      // Client certificates are optional (SDK clients use tokens); the caller decides.
      return Optional.empty();
    }
    return chain.length > 0 && chain[0] instanceof X509Certificate leaf
        ? Optional.of(leaf) : Optional.empty();
  }

  /** The host id in the certificate's {@code servicefarm:host:} SAN URI, if it has one. */
  static Optional<String> hostIdOf(X509Certificate certificate) {
    return sanUri(certificate, HOST_URI_PREFIX);
  }

  /**
   * The gateway name of the call's verified client certificate ({@code servicefarm:gateway:}
   * SAN URI), if it presented one.
   */
  public static Optional<String> certifiedGateway(ServerCall<?, ?> call) {
    return peerCertificate(call).flatMap(c -> sanUri(c, GATEWAY_URI_PREFIX));
  }

  /** What follows {@code prefix} in the certificate's first SAN URI that starts with it. */
  private static Optional<String> sanUri(X509Certificate certificate, String prefix) {
    Collection<List<?>> names;
    try {
      names = certificate.getSubjectAlternativeNames();
    } catch (CertificateParsingException e) {
      // The handshake accepted it, but a SAN we cannot read names no host we could trust.
      return Optional.empty();
    }
    if (names == null) {
      return Optional.empty();
    }
    return names.stream()
        .filter(n -> n.size() == 2 && Integer.valueOf(SAN_URI).equals(n.get(0)))
        .map(n -> String.valueOf(n.get(1)))
        .filter(uri -> uri.startsWith(prefix))
        .map(uri -> uri.substring(prefix.length()))
        .findFirst();
  }

  private static <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, Status status) {
    call.close(status, new Metadata());
    return new ServerCall.Listener<>() {};
  }
}
