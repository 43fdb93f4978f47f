package org.servicefarm.controller.hosts;

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
final class HostBook {
  static final long MAX_AGE_NANOS = 1_000_000_000L;

  private record Read(List<HostRecord> hosts, long atNanos) {}

  private final HostRepository hosts;
  private final LongSupplier nanoTime;
  private final ReentrantLock refreshing = new ReentrantLock();
  /** vCPUs and MB placed on each host since the last read: {vcpus, memoryMb}. */
  private final Map<String, long[]> placedSince = new ConcurrentHashMap<>();
  private volatile Read last;

  HostBook(HostRepository hosts, LongSupplier nanoTime) {
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
          // Cleared first: a VM placed while the table is read is counted twice until the next
          // read rather than not at all.
          placedSince.clear();
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
    placedSince.compute(hostId, (id, sum) -> {
      long[] next = sum == null ? new long[2] : sum;
      next[0] += vcpus;
      next[1] += memoryMb;
      return next;
    });
  }

  /** Forgets the view, so the next placement reads the table (a host's status changed). */
  void invalidate() {
    last = null;
  }

  private List<HostRecord> withPlaced(List<HostRecord> read) {
    if (placedSince.isEmpty()) {
      return read;
    }
    List<HostRecord> out = new ArrayList<>(read.size());
    for (HostRecord h : read) {
      long[] placed = placedSince.get(h.id());
      out.add(placed == null ? h : new HostRecord(h.id(), h.address(), h.hypervisor(),
          h.status(), h.capacityVcpus(), h.capacityMemoryMb(), h.capacityDiskMb(), h.load(),
          h.lastReportAt(), h.allocatedVcpus() + (int) placed[0],
          h.allocatedMemoryMb() + placed[1]));
    }
    return out;
  }
}
