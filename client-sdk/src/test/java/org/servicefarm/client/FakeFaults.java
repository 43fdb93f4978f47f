package org.servicefarm.client;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.atomic.AtomicInteger;

/** Test-only: counts calls to a fake service and fails the next ones with chosen statuses. */
public final class FakeFaults {

  private final Deque<Status> pending = new ArrayDeque<>();
  private final AtomicInteger calls = new AtomicInteger();

  /** The next {@code times} calls fail with {@code status}, whatever they ask. */
  public synchronized void failNext(Status status, int times) {
    for (int i = 0; i < times; i++) {
      pending.add(status);
    }
  }

  /** How many calls arrived, failed ones included. */
  public int calls() {
    return calls.get();
  }

  /** Counts the call; answers it with a pending failure and returns true if one is due. */
  synchronized boolean failedPending(StreamObserver<?> observer) {
    calls.incrementAndGet();
    Status failure = pending.poll();
    if (failure == null) {
      return false;
    }
    observer.onError(failure.asRuntimeException());
    return true;
  }
}
