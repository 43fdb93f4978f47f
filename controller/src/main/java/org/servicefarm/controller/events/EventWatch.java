package org.servicefarm.controller.events;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.EventRepository.Event;
import org.servicefarm.controller.model.FarmException;

/**
 * One WatchEvents call: first the stored events after the caller's {@code after_id} up to where
 * the feed stood when the call began (read from the table page by page), then the feed's events
 * after that, each once, in id order, filtered.
 *
 * <p>Sends only while the call is ready (flow control) and never waits for it: a slow caller's
 * events queue here, and one that falls more than {@link #MAX_QUEUED} behind is ended with
 * {@link FarmException.LimitReached} naming the id to resume after. A watch ends with a failure
 * only through the status function it is given (the API's one mapping of failures). Sending runs on a shared executor, at most
 * one task per watch at a time, so neither the feed's poller nor other watches wait for it.
 */
public final class EventWatch<T> {
  private static final Logger LOG = Logger.getLogger(EventWatch.class.getName());
  static final int MAX_QUEUED = 10_000;
  private static final int PAGE = 200;
  private static final int BATCH = 100;

  /** Reads stored events for the replay: after one id, up to another, at most a page. */
  @FunctionalInterface
  public interface StoredEvents {
    List<Event> page(long afterId, long upToId, int limit);
  }

  private final EventFilter filter;
  private final ServerCallStreamObserver<T> out;
  private final Function<Event, T> message;
  private final StoredEvents stored;
  private final Executor senders;
  private final Runnable onEnd;
  private final Function<Throwable, Status> statusOf;
  /** Live events with ids above this come from the feed; those up to it from the table. */
  private final long liveAfter;
  private final ArrayDeque<Event> replayPage = new ArrayDeque<>(); // sender task only
  private final ArrayDeque<Event> live = new ArrayDeque<>(); // guarded by this
  private long replayedUpTo; // sender task only
  private long lastSent; // sender task only
  private boolean scheduled; // guarded by this
  private boolean ended; // guarded by this
  private RuntimeException endWith; // guarded by this: set when the watch must end with it

  EventWatch(EventFilter filter, long afterId, long feedPosition, ServerCallStreamObserver<T> out,
      Function<Event, T> message, StoredEvents stored, Executor senders, Runnable onEnd,
      Function<Throwable, Status> statusOf) {
    this.filter = filter;
    this.out = out;
    this.message = message;
    this.stored = stored;
    this.senders = senders;
    this.onEnd = onEnd;
    this.statusOf = statusOf;
    // after_id 0 means "from now on": nothing to replay.
    long from = afterId <= 0 ? feedPosition : afterId;
    this.replayedUpTo = from;
    this.liveAfter = Math.max(from, feedPosition);
    this.lastSent = from;
    out.setOnReadyHandler(this::pump);
    out.setOnCancelHandler(this::cancelled);
  }

  /** Called by the feed, in id order, for every released event. */
  void offer(Event e) {
    if (e.id() <= liveAfter || !filter.matches(e)) {
      return;
    }
    synchronized (this) {
      if (ended || endWith != null) {
        return;
      }
      if (live.size() >= MAX_QUEUED) {
        live.clear();
        endWith = new FarmException.LimitReached("this watch fell more than " + MAX_QUEUED
            + " events behind; watch again with after_id set to the last id received");
      } else {
        live.add(e);
      }
    }
    pump();
  }

  /** Ends the watch from the server's side (the controller is stopping). */
  void close(FarmException why) {
    synchronized (this) {
      if (endWith == null) {
        endWith = why;
      }
    }
    pump();
  }

  void pump() {
    synchronized (this) {
      if (scheduled || ended) {
        return;
      }
      scheduled = true;
    }
    senders.execute(this::send);
  }

  private void send() {
    try {
      for (int sent = 0; sent < BATCH; sent++) {
        RuntimeException ending;
        synchronized (this) {
          ending = endWith;
        }
        if (ending != null) {
          end(ending);
          return;
        }
        if (out.isCancelled() || !out.isReady()) {
          break; // the ready handler pumps again; a cancelled call ends via its handler
        }
        Event next = next();
        if (next == null) {
          break;
        }
        out.onNext(message.apply(next));
        lastSent = next.id();
      }
    } catch (DatabaseException e) {
      LOG.log(Level.WARNING, "event watch replay failed: {0}", e.getMessage());
      end(new FarmException.Unavailable("the farm's database is unreachable; watch again"
          + " with after_id " + lastSent));
      return;
    } catch (RuntimeException e) {
      // The mapping logs it and answers INTERNAL; the caller resumes after the last id it got.
      end(e);
      return;
    }
    boolean more;
    synchronized (this) {
      scheduled = false;
      more = endWith != null || !live.isEmpty() || replayedUpTo < liveAfter || !replayPage.isEmpty();
    }
    // Re-check after clearing the flag: a ready signal or an event may have come meanwhile.
    if (more && (out.isReady() || endWith() != null)) {
      pump();
    }
  }

  private synchronized RuntimeException endWith() {
    return endWith;
  }

  /** The next event to send: stored ones first, then live ones. */
  private Event next() {
    if (replayPage.isEmpty() && replayedUpTo < liveAfter) {
      List<Event> page = stored.page(replayedUpTo, liveAfter, PAGE);
      replayPage.addAll(page);
      replayedUpTo = page.size() < PAGE ? liveAfter : page.get(page.size() - 1).id();
    }
    if (!replayPage.isEmpty()) {
      return replayPage.poll();
    }
    synchronized (this) {
      return live.poll();
    }
  }

  private void end(RuntimeException failure) {
    synchronized (this) {
      if (ended) {
        return;
      }
      ended = true;
      live.clear();
    }
    onEnd.run();
    try {
      out.onError(statusOf.apply(failure).asRuntimeException());
    } catch (IllegalStateException alreadyClosed) {
      // The call was cancelled meanwhile; the caller is gone and needs no answer.
    }
  }

  private void cancelled() {
    synchronized (this) {
      ended = true;
      live.clear();
    }
    onEnd.run();
  }
}
