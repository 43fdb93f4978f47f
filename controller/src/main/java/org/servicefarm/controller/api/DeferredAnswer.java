package org.servicefarm.controller.api;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.servicefarm.controller.broker.Broker;

/**
 * Answers a unary call when a future completes, so the call holds no server thread while it waits
 * (for a VM to become ACTIVE, to settle after an admin action). The server's executor is bounded:
 * a thread per waiting call would let slow starts take every thread from the warm path.
 */
final class DeferredAnswer {
  private DeferredAnswer() {}

  /**
   * Sends {@code toResponse} of the future's value, or the status of its failure as the status
   * mapper would for a thrown one. A caller that has gone is not answered; what it asked for (a
   * lease, a VM change) stands, as it would had the answer been lost on the way.
   */
  static <T, R> void answer(StreamObserver<R> out, CompletableFuture<T> future,
      Function<T, R> toResponse) {
    if (out instanceof ServerCallStreamObserver<R> call) {
      // With a handler set, answering a cancelled call is a no-op instead of an exception.
      call.setOnCancelHandler(() -> { });
    }
    future.thenApply(toResponse).whenComplete((response, failure) -> {
      if (failure != null) {
        out.onError(StatusMapper.toStatus(Broker.unwrap(failure)).asRuntimeException());
        return;
      }
      out.onNext(response);
      out.onCompleted();
    });
  }
}
