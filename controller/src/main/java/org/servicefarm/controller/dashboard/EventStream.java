package org.servicefarm.controller.dashboard;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.controller.db.EventRepository.Event;
import org.servicefarm.controller.events.EventFeed;
import org.servicefarm.controller.web.WebServer;
import org.servicefarm.http.WebExchange;

/**
 * The farm's events as Server-Sent Events ({@code text/event-stream}), fed by the {@link
 * EventFeed}: one {@code farm} message per committed event, with its id.
 *
 * <p>A stream holds one of the web server's few threads, so at most {@link #MAX_STREAMS} run at
 * once (others get 503 and the page polls instead), and each ends after {@link #LIFETIME}: the
 * browser's EventSource then reconnects by itself, and a stream whose reader vanished does not
 * hold its thread for long. The page re-reads the summary whenever a stream opens, so nothing
 * committed between two streams is missed.
 */
final class EventStream {
  private static final Logger LOG = Logger.getLogger(EventStream.class.getName());
  static final int MAX_STREAMS = 2;
  static final Duration LIFETIME = Duration.ofSeconds(30);
  private static final Duration KEEPALIVE = Duration.ofSeconds(5);
  /** Events queued for a slow reader before its stream is ended (it reconnects and re-reads). */
  private static final int MAX_QUEUED = 1000;
  /** Sent instead of the queued events when a reader fell behind: the page re-reads the summary. */
  private static final Event FELL_BEHIND =
      new Event(-1, java.time.Instant.EPOCH, "", null, null, null, null, null, "");

  private final EventFeed feed;
  private final AtomicInteger open = new AtomicInteger();

  EventStream(EventFeed feed) {
    this.feed = feed;
  }

  void serve(WebExchange exchange) throws IOException {
    if (open.incrementAndGet() > MAX_STREAMS) {
      open.decrementAndGet();
      WebServer.sendText(exchange, 503, "too many event streams are open (at most "
          + MAX_STREAMS + "); the dashboard polls instead\n");
      return;
    }
    try {
      BlockingQueue<Event> queue = new ArrayBlockingQueue<>(MAX_QUEUED + 1);
      EventFeed.Listening listening = feed.listen(e -> enqueue(queue, e));
      try {
        stream(exchange, queue);
      } finally {
        listening.close();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException e) {
      // The reader went away: an ordinary end of a stream, not a failure of the controller.
      LOG.log(Level.FINE, "event stream ended: {0}", e.getMessage());
    } finally {
      open.decrementAndGet();
    }
  }

  private static void enqueue(BlockingQueue<Event> queue, Event e) {
    if (queue.remainingCapacity() <= 1) {
      queue.clear();
      queue.offer(FELL_BEHIND);
    } else {
      queue.offer(e);
    }
  }

  private static void stream(WebExchange exchange, BlockingQueue<Event> queue)
      throws IOException, InterruptedException {
    Dashboard.secureHeaders(exchange, true);
    exchange.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
    exchange.sendResponseHeaders(200, 0);
    OutputStream out = exchange.getResponseBody();
    write(out, "retry: 2000\n: the farm's events\n\n");
    long end = System.nanoTime() + LIFETIME.toNanos();
    while (System.nanoTime() < end) {
      Event e = queue.poll(KEEPALIVE.toMillis(), TimeUnit.MILLISECONDS);
      if (e == null) {
        write(out, ": keepalive\n\n");
      } else if (e == FELL_BEHIND) {
        write(out, "event: resync\ndata: {}\n\n");
      } else {
        write(out, "id: " + e.id() + "\nevent: farm\ndata: " + FarmSummary.eventJson(e) + "\n\n");
      }
    }
    out.close();
  }

  private static void write(OutputStream out, String text) throws IOException {
    out.write(text.getBytes(StandardCharsets.UTF_8));
    out.flush();
  }
}
