package org.servicefarm.client;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall.SimpleForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;

/**
 * Adds "authorization: Bearer &lt;token&gt;" to every call. An interceptor rather than
 * CallCredentials so the token also travels over a channel the caller built (tests, in-process).
 */
final class BearerTokenInterceptor implements ClientInterceptor {

  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  static final Metadata.Key<String> PROJECT =
      Metadata.Key.of("servicefarm-project", Metadata.ASCII_STRING_MARSHALLER);

  private final String headerValue;
  private final String project;

  BearerTokenInterceptor(String token) {
    this(token, null);
  }

  /** @param project sent as "servicefarm-project" when not null; token null sends none */
  BearerTokenInterceptor(String token, String project) {
    this.headerValue = token == null ? null : "Bearer " + token;
    this.project = project;
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
      MethodDescriptor<ReqT, RespT> method, CallOptions callOptions, Channel next) {
    return new SimpleForwardingClientCall<>(next.newCall(method, callOptions)) {
      @Override
      public void start(Listener<RespT> responseListener, Metadata headers) {
        if (headerValue != null) {
          headers.put(AUTHORIZATION, headerValue);
        }
        if (project != null) {
          headers.put(PROJECT, project);
        }
        super.start(responseListener, headers);
      }
    };
  }
}
