package org.servicefarm.controller.db;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * How big a {@link GroupCommit}'s batches were: batches by size in powers of two (1, 2-3, 4-7,
 * ...), callers, committed and failed batches. Read by the warm path's benchmark, which shows
 * the distribution and the commits per request.
 */
public final class BatchSizes {
  /** Bucket i holds batches of 2^i to 2^(i+1) - 1 callers; the last holds every larger one. */
  public static final int BUCKETS = 8;

  private final AtomicLongArray byBucket = new AtomicLongArray(BUCKETS);
  private final AtomicLong callers = new AtomicLong();
  private final AtomicLong committed = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();

  void record(int size, boolean wasCommitted) {
    byBucket.incrementAndGet(bucket(size));
    callers.addAndGet(size);
    (wasCommitted ? committed : failed).incrementAndGet();
  }

  static int bucket(int size) {
    return Math.min(BUCKETS - 1, 31 - Integer.numberOfLeadingZeros(Math.max(1, size)));
  }

  /** A copy of the counts now. */
  public Snapshot snapshot() {
    long[] buckets = new long[BUCKETS];
    for (int i = 0; i < BUCKETS; i++) {
      buckets[i] = byBucket.get(i);
    }
    return new Snapshot(buckets, callers.get(), committed.get(), failed.get());
  }

  /** Counts at one moment; {@link #minus} gives those of a window. */
  public record Snapshot(long[] byBucket, long callers, long committed, long failed) {
    public Snapshot minus(Snapshot before) {
      long[] buckets = new long[BUCKETS];
      for (int i = 0; i < BUCKETS; i++) {
        buckets[i] = byBucket[i] - before.byBucket[i];
      }
      return new Snapshot(buckets, callers - before.callers, committed - before.committed,
          failed - before.failed);
    }

    public long batches() {
      return committed + failed;
    }

    /** "1: 40 %, 2-3: 30 %, ..." over the batches, leaving out empty buckets. */
    public String distribution() {
      long total = batches();
      StringBuilder out = new StringBuilder();
      for (int i = 0; i < BUCKETS; i++) {
        if (byBucket[i] == 0) {
          continue;
        }
        int low = 1 << i;
        String range = i == BUCKETS - 1 ? low + "+" : low == (2 * low - 1) ? "" + low
            : low + "-" + (2 * low - 1);
        out.append(out.length() == 0 ? "" : ", ").append(range).append(": ")
            .append(Math.round(100.0 * byBucket[i] / total)).append(" %");
      }
      return out.toString();
    }
  }
}
