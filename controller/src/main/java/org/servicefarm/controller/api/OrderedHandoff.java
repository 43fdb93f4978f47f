package org.servicefarm.controller.api;

import io.grpc.Context;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One agent stream's work that may block (a registration's transactions, a command result whose
 * waiters go on to write), run in arrival order on a shared pool, off the transport thread that
 * delivers the stream's messages. While nothing of the stream is queued or running here, a
 * cheap message (Alive, a load report) may be handled on the transport thread itself: order is
 * kept, since the transport delivers one stream's messages one at a time. The work runs in the
 * stream's gRPC context, as inline work does: who the caller is (its certified host, its token)
 * is read from there, and a pool thread has no context of its own.
 */
final class OrderedHandoff {
  private static final Logger LOG = Logger.getLogger(OrderedHandoff.class.getName());

  private final Executor pool;
  private final Context callContext;
  private final ArrayDeque<Runnable> queue = new ArrayDeque<>(); // guarded by this
  private boolean running; // guarded by this

  /** @param callContext the stream's context (Context.current() when the call starts) */
  OrderedHandoff(Executor pool, Context callContext) {
    this.pool = pool;
    this.callContext = callContext;
  }

  /** Whether nothing of this stream is queued or running: a message may be handled inline. */
  synchronized boolean idle() {
    return !running && queue.isEmpty();
  }

  /** Runs {@code work} after everything handed off before it. */
  void execute(Runnable work) {
    synchronized (this) {
      queue.add(work);
      if (running) {
        return;
      }
      running = true;
    }
    pool.execute(this::drain);
  }

  private void drain() {
    while (true) {
      Runnable next;
      synchronized (this) {
        next = queue.poll();
        if (next == null) {
          running = false;
          return;
        }
      }
      try {
        callContext.run(next);
      } catch (RuntimeException e) {
        // Must not end the loop: the stream's later messages would never run.
        LOG.log(Level.SEVERE, "an agent stream's message could not be handled", e);
      }
    }
  }
}
