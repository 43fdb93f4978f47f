package org.servicefarm.controller.placement;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.model.HostRecord;

/**
 * The hosts with their allocations as placement ranks them: read from the database at most every
 * {@link #MAX_AGE_NANOS}, with the VMs placed since then added in memory.
 *
 * <p>Reading the table sums every VM's resources per host; done for each placement it cost more
 * than the placement itself once the farm held thousands of VMs. Ranking on a slightly old view
 * is safe because the placer verifies the chosen host under its row lock with fresh sums before
 * it records a VM (see {@link Placer}): a stale view can only make it try another host.
 */
final class HostView {
  static final long MAX_AGE_NANOS = 1_000_000_000L;

  private record Read(List<HostRecord> hosts, long atNanos) {}

  private final HostRepository hosts;
  private final LongSupplier nanoTime;
  private final ReentrantLock refreshing = new ReentrantLock();
  /**
   * vCPUs and MB placed on each host ({vcpus, memoryMb}) since the last read, and in the interval
   * before it. A placement's transaction may commit after the read that follows it began, so the
   * read can miss it: each placement is counted for two intervals, at the cost of counting some
   * twice for one.
   */
  private volatile Map<String, long[]> placedRecently = new ConcurrentHashMap<>();
  private volatile Map<String, long[]> placedBefore = Map.of();
  private volatile Read last;

  HostView(HostRepository hosts, LongSupplier nanoTime) {
    this.hosts = hosts;
    this.nanoTime = nanoTime;
  }

  /**
   * The hosts as of at most a second ago plus what was placed since. One caller reads the table
   * when the view is old; the others meanwhile rank on the old view rather than queue for it.
   */
  List<HostRecord> current(Database.Tx tx) throws SQLException {
    Read read = last;
    if (read == null || nanoTime.getAsLong() - read.atNanos() > MAX_AGE_NANOS) {
      if (read == null) {
        refreshing.lock();
      } else if (!refreshing.tryLock()) {
        return withPlaced(read.hosts());
      }
      try {
        read = last;
        if (read == null || nanoTime.getAsLong() - read.atNanos() > MAX_AGE_NANOS) {
          long at = nanoTime.getAsLong();
          placedBefore = placedRecently;
          placedRecently = new ConcurrentHashMap<>();
          read = new Read(hosts.list(tx), at);
          last = read;
        }
      } finally {
        refreshing.unlock();
      }
    }
    return withPlaced(read.hosts());
  }

  /** Counts a VM just placed on {@code hostId} until the next read of the table. */
  void placed(String hostId, int vcpus, long memoryMb) {
    placedRecently.compute(hostId, (id, sum) -> {
      long[] next = sum == null ? new long[2] : sum;
      next[0] += vcpus;
      next[1] += memoryMb;
      return next;
    });
  }

  /**
   * Forgets the view and the placements counted on top of it, so the next placement reads the
   * table alone: the Placer's last try before it answers "no room". Counting recent placements on
   * a fresh read would count the committed ones twice and refuse a host with room left; one not
   * yet committed is caught by the check at commit, under the host's lock, instead.
   */
  void invalidate() {
    placedRecently = new ConcurrentHashMap<>();
    placedBefore = Map.of();
    last = null;
  }

  private List<HostRecord> withPlaced(List<HostRecord> read) {
    Map<String, long[]> recently = placedRecently;
    Map<String, long[]> before = placedBefore;
    if (recently.isEmpty() && before.isEmpty()) {
      return read;
    }
    List<HostRecord> out = new ArrayList<>(read.size());
    for (HostRecord h : read) {
      long[] a = recently.get(h.id());
      long[] b = before.get(h.id());
      if (a == null && b == null) {
        out.add(h);
        continue;
      }
      long vcpus = (a == null ? 0 : a[0]) + (b == null ? 0 : b[0]);
      long memoryMb = (a == null ? 0 : a[1]) + (b == null ? 0 : b[1]);
      out.add(h.withAllocated(h.allocatedVcpus() + (int) vcpus, h.allocatedMemoryMb() + memoryMb));
    }
    return out;
  }
}
