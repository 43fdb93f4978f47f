package org.servicefarm.client;

import io.grpc.Status;
import org.servicefarm.api.v1.ServiceBrokerGrpc;

/**
 * The one place a failed call becomes a typed {@link FarmException}. Keeping the mapping here means
 * every SDK method and farmctl agree on what each gRPC status means to a caller.
 */
final class StatusMapper {

  private final String farmAddress;

  /**
   * @param farmAddress the controller's address as the channel knows it, for UNAVAILABLE messages
   */
  StatusMapper(String farmAddress) {
    this.farmAddress = farmAddress;
  }

  /**
   * @param error what the stub threw or the future failed with
   * @param attempts how many times the call was tried
   */
  FarmException map(Throwable error, CallPlan plan, int attempts) {
    Status status = Status.fromThrowable(error);
    String server = status.getDescription() == null ? "" : status.getDescription();
    String subject = plan.subject();
    switch (status.getCode()) {
      case NOT_FOUND:
        if (isRequestService(plan)) {
          return new ServiceNotFoundException(subject, server, orDefault(server,
              "service \"" + subject + "\" is neither offered nor defined"), error);
        }
        return new NotFoundException(server, orDefault(server,
            plan.methodName() + ": \"" + subject + "\" not found"), error);
      case RESOURCE_EXHAUSTED:
        if (RateLimitedException.isRateLimit(error)) {
          return new RateLimitedException(server, plan.methodName() + " refused: " + server, error);
        }
        return new NoCapacityException(server, orDefault(server,
            "the farm has no capacity for " + plan.methodName() + " " + subject), error);
      case UNAVAILABLE:
        return new FarmUnavailableException(server, "farm at " + farmAddress + " is unavailable"
            + " (" + attempts + (attempts == 1 ? " attempt" : " attempts") + "): "
            + detail(status), error);
      case FAILED_PRECONDITION:
        return new ConflictException(server, orDefault(server,
            plan.methodName() + " was refused in the farm's current state"), error);
      case INVALID_ARGUMENT:
        return new InvalidRequestException(server, orDefault(server,
            plan.methodName() + " was refused as invalid"), error);
      case PERMISSION_DENIED:
      case UNAUTHENTICATED:
        return new PermissionDeniedException(status.getCode(), server, orDefault(server,
            plan.methodName() + " was refused: " + status.getCode()), error);
      case DEADLINE_EXCEEDED:
        // gRPC's own description lists transport internals; the budget is what a person needs.
        return new FarmTimeoutException(server, plan.methodName() + " did not finish within "
            + plan.timeout().toSeconds() + " s", error);
      default:
        return new FarmException(status.getCode(), server,
            plan.methodName() + " failed: " + status.getCode() + ": " + detail(status), error);
    }
  }

  private static boolean isRequestService(CallPlan plan) {
    return plan.method().getFullMethodName()
        .equals(ServiceBrokerGrpc.getRequestServiceMethod().getFullMethodName());
  }

  private static String orDefault(String serverMessage, String fallback) {
    return serverMessage.isBlank() ? fallback : serverMessage;
  }

  /** The description plus the underlying cause, since "io exception" alone tells nothing. */
  private static String detail(Status status) {
    String description = status.getDescription() == null ? "" : status.getDescription();
    Throwable cause = status.getCause();
    if (cause != null && cause.getMessage() != null) {
      return description.isEmpty() ? cause.getMessage() : description + ": " + cause.getMessage();
    }
    return description.isEmpty() ? status.getCode().toString() : description;
  }
}
