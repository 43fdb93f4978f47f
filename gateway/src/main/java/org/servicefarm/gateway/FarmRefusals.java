package org.servicefarm.gateway;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.servicefarm.client.FarmTimeoutException;
import org.servicefarm.client.FarmUnavailableException;
import org.servicefarm.client.NoCapacityException;
import org.servicefarm.client.ServiceNotFoundException;

/** What a failed farm call means for a held connection: the refusal and its sentence. */
final class FarmRefusals {
  private FarmRefusals() {}

  static Refusal.Reason of(String service, Throwable failure) {
    Throwable cause = failure;
    while ((cause instanceof CompletionException || cause instanceof ExecutionException)
        && cause.getCause() != null) {
      cause = cause.getCause();
    }
    String said = cause instanceof org.servicefarm.client.FarmException f
        && !f.serverMessage().isEmpty() ? f.serverMessage() : String.valueOf(cause.getMessage());
    if (cause instanceof ServiceNotFoundException) {
      return new Refusal.Reason(Refusal.UNKNOWN_SERVICE,
          "service '" + service + "' is not defined on this farm");
    }
    if (cause instanceof NoCapacityException) {
      return new Refusal.Reason(Refusal.NO_CAPACITY,
          "service '" + service + "' has no VM and the farm has no capacity for one: " + said);
    }
    if (cause instanceof FarmTimeoutException) {
      return new Refusal.Reason(Refusal.HOLD_TIMEOUT,
          "service '" + service + "' did not become ready in time: " + said);
    }
    if (cause instanceof FarmUnavailableException) {
      // A VM whose build or boot failed, or no controller reachable: the message says which.
      return new Refusal.Reason(Refusal.UNAVAILABLE,
          "service '" + service + "' cannot be served now: " + said);
    }
    return new Refusal.Reason(Refusal.FARM_REFUSED,
        "service '" + service + "': the farm refused: " + said);
  }
}
