package org.servicefarm.controller.api;

import io.grpc.Attributes;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.SecurityLevel;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.InputStream;

/**
 * Answers a request message that does not parse with INVALID_ARGUMENT naming the method. Left to
 * itself grpc-java lets the parse failure escape the call's listener and answers UNKNOWN
 * ("Application error processing RPC"), which tells a client nothing and looks like a farm bug.
 * Here the request marshaller turns a parse failure into a value, and the call handler refuses
 * the call when that value arrives, before any interceptor or service sees it.
 */
public final class MalformedRequests {

  /** What the marshaller hands on instead of a request it could not parse. */
  private record Unparsable(String why) {}

  private MalformedRequests() {}

  /** The service with every method's request parsing guarded; its schema stays for reflection. */
  public static ServerServiceDefinition refusedAsInvalid(ServerServiceDefinition service) {
    ServiceDescriptor original = service.getServiceDescriptor();
    ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
        .setSchemaDescriptor(original.getSchemaDescriptor());
    java.util.List<ServerMethodDefinition<?, ?>> methods = new java.util.ArrayList<>();
    for (ServerMethodDefinition<?, ?> method : service.getMethods()) {
      ServerMethodDefinition<?, ?> guarded = guarded(method);
      descriptor.addMethod(guarded.getMethodDescriptor());
      methods.add(guarded);
    }
    ServerServiceDefinition.Builder built = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(built::addMethod);
    return built.build();
  }

  private static <Q, R> ServerMethodDefinition<Object, R> guarded(ServerMethodDefinition<Q, R> m) {
    MethodDescriptor<Q, R> method = m.getMethodDescriptor();
    MethodDescriptor<Object, R> tolerant =
        method.toBuilder(new TolerantMarshaller<>(method), method.getResponseMarshaller()).build();
    return ServerMethodDefinition.create(tolerant, new RefusingHandler<>(method,
        m.getServerCallHandler()));
  }

  private record TolerantMarshaller<Q>(MethodDescriptor<Q, ?> method)
      implements MethodDescriptor.Marshaller<Object> {
    // A server only parses requests, but the descriptor stays whole: a parsed request streams as
    // its own type does, and only a refused one cannot be sent on.
    @Override
    @SuppressWarnings("unchecked") // parse() makes nothing but Q values and Unparsable
    public InputStream stream(Object value) {
      if (value instanceof Unparsable refused) {
        throw new IllegalArgumentException("a refused request cannot be sent on: " + refused.why());
      }
      return method.streamRequest((Q) value);
    }

    @Override
    public Object parse(InputStream in) {
      try {
        return method.parseRequest(in);
      } catch (StatusRuntimeException e) {
        // Protobuf's reason (truncated message, bad wire type, invalid UTF-8) holds no input.
        Throwable cause = e.getCause() != null ? e.getCause() : e;
        return new Unparsable("a request to " + method.getFullMethodName()
            + " is not a valid message of its type: " + cause.getMessage());
      }
    }
  }

  /** Hands parsed requests on; refuses the call, once, at the first one that did not parse. */
  private record RefusingHandler<Q, R>(MethodDescriptor<Q, R> method, ServerCallHandler<Q, R> next)
      implements ServerCallHandler<Object, R> {
    @Override
    public ServerCall.Listener<Object> startCall(ServerCall<Object, R> call, Metadata headers) {
      OnceClosedCall<Q, R> once = new OnceClosedCall<>(call, method);
      ServerCall.Listener<Q> inner = next.startCall(once, headers);
      return new ServerCall.Listener<>() {
        private boolean refused;

        @Override
        @SuppressWarnings("unchecked") // anything not Unparsable came from method.parseRequest
        public void onMessage(Object message) {
          if (refused) {
            return;
          }
          if (message instanceof Unparsable u) {
            refused = true;
            once.close(Status.INVALID_ARGUMENT.withDescription(u.why()), new Metadata());
            // A streaming service learns its call is over, as when a client cancels.
            inner.onCancel();
            return;
          }
          inner.onMessage((Q) message);
        }

        @Override
        public void onHalfClose() {
          if (!refused) {
            inner.onHalfClose();
          }
        }

        @Override
        public void onCancel() {
          if (!refused) {
            inner.onCancel();
          }
        }

        @Override
        public void onComplete() {
          if (!refused) {
            inner.onComplete();
          }
        }

        @Override
        public void onReady() {
          if (!refused) {
            inner.onReady();
          }
        }
      };
    }
  }

  /** The call as the service sees it: its own request type, and closed at most once. */
  private static final class OnceClosedCall<Q, R> extends ServerCall<Q, R> {
    private final ServerCall<Object, R> call;
    private final MethodDescriptor<Q, R> method;
    private boolean closed;

    OnceClosedCall(ServerCall<Object, R> call, MethodDescriptor<Q, R> method) {
      this.call = call;
      this.method = method;
    }

    @Override
    public void close(Status status, Metadata trailers) {
      synchronized (this) {
        if (closed) {
          return; // refused already; the service's own answer comes too late to matter
        }
        closed = true;
      }
      call.close(status, trailers);
    }

    @Override
    public void request(int numMessages) {
      call.request(numMessages);
    }

    @Override
    public void sendHeaders(Metadata headers) {
      call.sendHeaders(headers);
    }

    @Override
    public void sendMessage(R message) {
      call.sendMessage(message);
    }

    @Override
    public boolean isReady() {
      return call.isReady();
    }

    @Override
    public boolean isCancelled() {
      return call.isCancelled();
    }

    @Override
    public void setMessageCompression(boolean enabled) {
      call.setMessageCompression(enabled);
    }

    @Override
    public void setCompression(String compressor) {
      call.setCompression(compressor);
    }

    @Override
    public void setOnReadyThreshold(int numBytes) {
      call.setOnReadyThreshold(numBytes);
    }

    @Override
    public SecurityLevel getSecurityLevel() {
      return call.getSecurityLevel();
    }

    @Override
    public Attributes getAttributes() {
      return call.getAttributes();
    }

    @Override
    public String getAuthority() {
      return call.getAuthority();
    }

    @Override
    public MethodDescriptor<Q, R> getMethodDescriptor() {
      return method;
    }
  }
}
