package org.servicefarm.controller.events;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.EventRepository.Event;
import org.servicefarm.controller.model.FarmException;

/**
 * Committed events as they come, for every WatchEvents call of this controller. One thread polls
 * the table ({@code WHERE id > delivered ORDER BY id}) every {@link #POLL_INTERVAL}: reading what
 * is committed is what makes a watch see only committed events, and it sees events appended by
 * any controller sharing the database. A {@link HoldBackWindow} puts the polled events in id
 * order without gaps; each released event is offered to every watch, which filters and queues it.
 */
public final class EventFeed implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(EventFeed.class.getName());
  static final Duration POLL_INTERVAL = Duration.ofMillis(200);
  /** How long an event waits behind a missing id before the id is taken to be gone. */
  static final Duration GAP_GRACE = Duration.ofSeconds(2);
  private static final int POLL_LIMIT = 1000;
  private static final int SENDER_THREADS = 4;

  private final Database db;
  private final EventRepository events;
  private final Function<Throwable, Status> statusOf;
  private final HoldBackWindow window; // poller thread, and under this lock
  private final List<EventWatch<?>> watches = new CopyOnWriteArrayList<>();
  private final List<Consumer<Event>> listeners = new CopyOnWriteArrayList<>();
  private final ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor(
      daemon("event-feed"));
  private final ExecutorService senders = Executors.newFixedThreadPool(SENDER_THREADS,
      daemon("event-watch"));

  /**
   * @param statusOf how a watch's failure reaches its caller: the API's one mapping of failures
   */
  public EventFeed(Database db, EventRepository events, Function<Throwable, Status> statusOf) {
    this.statusOf = statusOf;
    this.db = db;
    this.events = events;
    // Watches that start from "now" begin at the newest event committed at start.
    this.window = new HoldBackWindow(events.newestId(db), GAP_GRACE);
  }

  public void start() {
    poller.scheduleWithFixedDelay(this::poll, POLL_INTERVAL.toMillis(), POLL_INTERVAL.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  /**
   * Starts a watch on the call: stored events after {@code afterId} (none when 0), then new ones
   * as they are committed. Call from the service method, which must return right after.
   */
  public <T> void watch(EventFilter filter, long afterId, ServerCallStreamObserver<T> out,
      Function<Event, T> message) {
    EventWatch<?>[] self = new EventWatch<?>[1];
    EventWatch<T> watch;
    synchronized (this) {
      // Registered under the lock the poller releases under: every event above the position
      // read here reaches the watch live, every one up to it comes from the table.
      watch = new EventWatch<>(filter, afterId, window.delivered(), out, message,
          (after, upTo, limit) -> events.page(db, filter.vmId(), filter.service(),
              filter.hostId(), after, upTo, limit, filter.project()),
          senders, () -> watches.remove(self[0]), statusOf);
      self[0] = watch;
      watches.add(watch);
    }
    watch.pump();
  }

  /**
   * Hands every event released from now on to {@code listener}, in id order, on the poller's
   * thread: it must not block (queue and return). Closing the answer stops it. For readers that
   * are not gRPC calls, such as the dashboard's event stream.
   */
  public Listening listen(Consumer<Event> listener) {
    synchronized (this) {
      listeners.add(listener);
    }
    return () -> listeners.remove(listener);
  }

  /** A listener's registration; closing it stops the events. */
  public interface Listening extends AutoCloseable {
    @Override
    void close();
  }

  /** Watches open now. */
  public int watchCount() {
    return watches.size();
  }

  private void poll() {
    try {
      List<Event> polled = events.after(db, window.delivered(), POLL_LIMIT);
      synchronized (this) {
        for (Event e : window.accept(polled, System.nanoTime())) {
          for (EventWatch<?> w : watches) {
            w.offer(e);
          }
          for (Consumer<Event> l : listeners) {
            l.accept(e);
          }
        }
      }
    } catch (DatabaseException e) {
      LOG.log(Level.WARNING, "event feed poll skipped: {0}", e.getMessage());
    } catch (RuntimeException e) {
      // Must not escape: a periodic task that throws is never run again.
      LOG.log(Level.SEVERE, "event feed poll failed", e);
    }
  }

  @Override
  public void close() {
    poller.shutdownNow();
    for (EventWatch<?> w : watches) {
      w.close(new FarmException.Unavailable("the controller is stopping; watch again"));
    }
    senders.shutdown();
  }

  private static ThreadFactory daemon(String name) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, name + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
