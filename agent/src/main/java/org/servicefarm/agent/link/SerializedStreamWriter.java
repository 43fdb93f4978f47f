package org.servicefarm.agent.link;

import io.grpc.stub.StreamObserver;

/**
 * Lets several threads (the report timer, the per-VM command workers) write to one gRPC stream:
 * a StreamObserver must not be called concurrently. Once the stream has ended, writes are dropped
 * and reported as such, because the next stream re-registers with the full inventory anyway.
 */
final class SerializedStreamWriter<T> {

  private final StreamObserver<T> stream;
  private boolean ended; // guarded by this

  SerializedStreamWriter(StreamObserver<T> stream) {
    this.stream = stream;
  }

  /** @return false when the stream has ended and the message was not sent */
  synchronized boolean send(T message) {
    if (ended) {
      return false;
    }
    try {
      stream.onNext(message);
      return true;
    } catch (IllegalStateException e) {
      // grpc-java refuses writes on a call that was cancelled; the stream is over.
      ended = true;
      return false;
    }
  }

  /** Half-closes the stream: the agent is done sending. */
  synchronized void complete() {
    if (!ended) {
      ended = true;
      stream.onCompleted();
    }
  }

  /** Marks the stream ended after the other side ended it; nothing may be written any more. */
  synchronized void markEnded() {
    ended = true;
  }
}
