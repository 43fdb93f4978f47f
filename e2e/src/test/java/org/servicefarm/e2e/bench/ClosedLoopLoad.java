package org.servicefarm.e2e.bench;

import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntFunction;

/**
 * A closed-loop load: {@code clients} threads, each sending its next call as soon as the last
 * one answered, first for a warm-up whose calls are not counted, then for the measured time.
 * Latencies are kept in full (a long[] per client), so percentiles are exact, not bucketed.
 */
final class ClosedLoopLoad {

  /** One client's call; it throws when the call fails, which fails the run. */
  @FunctionalInterface
  interface Call {
    void run() throws Exception;
  }

  /** Requests per second over the measured time, and its latency percentiles. */
  record Result(double perSecond, long p50Nanos, long p99Nanos, long calls) {
    String p50() {
      return millis(p50Nanos);
    }

    String p99() {
      return millis(p99Nanos);
    }

    String rate() {
      return String.format("%.0f", perSecond);
    }

    private static String millis(long nanos) {
      return String.format("%.2f ms", nanos / 1e6);
    }
  }

  private ClosedLoopLoad() {}

  /** @param callOf the call client {@code i} makes, built once per client before the run */
  static Result run(int clients, Duration warmUp, Duration measure, IntFunction<Call> callOf)
      throws InterruptedException {
    long start = System.nanoTime() + Duration.ofMillis(100).toNanos();
    long measureFrom = start + warmUp.toNanos();
    long end = measureFrom + measure.toNanos();
    long[][] latencies = new long[clients][];
    int[] counts = new int[clients];
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch done = new CountDownLatch(clients);
    for (int i = 0; i < clients; i++) {
      int client = i;
      Call call = callOf.apply(i);
      Thread thread = new Thread(() -> {
        long[] mine = new long[1 << 14];
        int n = 0;
        try {
          while (System.nanoTime() < start) {
            Thread.onSpinWait();
          }
          for (long now = System.nanoTime(); now < end && failure.get() == null; ) {
            call.run();
            long after = System.nanoTime();
            if (now >= measureFrom) {
              if (n == mine.length) {
                mine = Arrays.copyOf(mine, n * 2);
              }
              mine[n++] = after - now;
            }
            now = after;
          }
        } catch (Exception | Error e) {
          failure.compareAndSet(null, e);
        } finally {
          latencies[client] = mine;
          counts[client] = n;
          done.countDown();
        }
      }, "load-" + i);
      thread.start();
    }
    done.await();
    if (failure.get() != null) {
      throw new IllegalStateException("a call failed during the load", failure.get());
    }
    long total = Arrays.stream(counts).asLongStream().sum();
    long[] all = new long[(int) total];
    int at = 0;
    for (int i = 0; i < clients; i++) {
      System.arraycopy(latencies[i], 0, all, at, counts[i]);
      at += counts[i];
    }
    Arrays.sort(all);
    return new Result(total / (measure.toNanos() / 1e9), percentile(all, 0.50),
        percentile(all, 0.99), total);
  }

  private static long percentile(long[] sorted, double q) {
    return sorted.length == 0 ? 0 : sorted[(int) Math.min(sorted.length - 1, (long) (q * sorted.length))];
  }
}
