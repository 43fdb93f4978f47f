package org.servicefarm.client;

import io.grpc.stub.ClientCallStreamObserver;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * A stream the farm keeps sending on (such as {@link FarmClient#watchEvents}) until it is
 * cancelled. Closing it cancels it.
 */
public final class Subscription implements AutoCloseable {
  private final CompletableFuture<Void> done = new CompletableFuture<>();
  private volatile ClientCallStreamObserver<?> call;

  Subscription() {}

  void attach(ClientCallStreamObserver<?> requestStream) {
    this.call = requestStream;
  }

  void finished() {
    done.complete(null);
  }

  void failed(FarmException e) {
    done.completeExceptionally(e);
  }

  /** Stops the stream; the consumer hears nothing more once this returns and its call ends. */
  public void cancel() {
    ClientCallStreamObserver<?> c = call;
    if (c != null && !done.isDone()) {
      c.cancel("cancelled by the client", null);
    }
    done.complete(null);
  }

  /** Completes when the stream ends: normally when cancelled, exceptionally with why it broke. */
  public CompletableFuture<Void> done() {
    return done;
  }

  /**
   * Blocks until the stream ends.
   *
   * @throws FarmException when the stream broke (the farm went away, the filter was refused)
   */
  public void await() throws InterruptedException {
    try {
      done.get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof FarmException farm) {
        throw farm;
      }
      throw new IllegalStateException("event stream failed", e.getCause());
    } catch (CancellationException e) {
      // Cancelled through done(): the stream has ended as asked.
    }
  }

  @Override
  public void close() {
    cancel();
  }
}
