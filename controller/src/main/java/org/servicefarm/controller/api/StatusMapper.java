package org.servicefarm.controller.api;

import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.model.FarmException;

/**
 * The one place where failures become gRPC status codes. Services throw the sealed
 * {@link FarmException} (or let a {@link DatabaseException} through); this interceptor, and every
 * stream or deferred answer that ends with a failure, turns them into a Status with a message for
 * people. Stack traces stay in the log.
 */
public final class StatusMapper implements ServerInterceptor {
  private static final Logger LOG = Logger.getLogger(StatusMapper.class.getName());

  public static Status toStatus(Throwable t) {
    if (t instanceof StatusRuntimeException sre) {
      return sre.getStatus();
    }
    if (t instanceof FarmException e) {
      Status code = switch (e.kind()) {
        case NOT_FOUND -> Status.NOT_FOUND;
        case NO_CAPACITY -> Status.RESOURCE_EXHAUSTED;
        case UNAVAILABLE -> Status.UNAVAILABLE;
        case INVALID_INPUT -> Status.INVALID_ARGUMENT;
        case PERMISSION_DENIED -> Status.PERMISSION_DENIED;
        case CONFLICT -> Status.FAILED_PRECONDITION;
        case TIMED_OUT -> Status.DEADLINE_EXCEEDED;
      };
      return code.withDescription(e.getMessage());
    }
    if (t instanceof DatabaseException db) {
      if (db.kind() == DatabaseException.Kind.UNAVAILABLE) {
        return Status.UNAVAILABLE.withDescription("the farm's database is unreachable; try again");
      }
      if (db.kind() == DatabaseException.Kind.LIMIT) {
        return Status.RESOURCE_EXHAUSTED.withDescription(db.limit());
      }
      if (db.kind() == DatabaseException.Kind.CONSTRAINT) {
        LOG.log(Level.INFO, "constraint refused a write", db);
        return Status.FAILED_PRECONDITION.withDescription(
            "the farm refused a change that breaks its rules (SQLSTATE " + db.sqlState() + ")");
      }
    }
    LOG.log(Level.SEVERE, "unexpected failure in a call", t);
    return Status.INTERNAL.withDescription("internal error; the controller's log has the details");
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    ServerCall.Listener<Q> delegate = next.startCall(call, headers);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      @Override
      public void onHalfClose() {
        try {
          super.onHalfClose();
        } catch (RuntimeException e) {
          call.close(toStatus(e), new Metadata());
        }
      }

      @Override
      public void onMessage(Q message) {
        try {
          super.onMessage(message);
        } catch (RuntimeException e) {
          call.close(toStatus(e), new Metadata());
        }
      }
    };
  }
}
