package org.servicefarm.controller.metrics;

import java.util.EnumMap;
import java.util.Map;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.db.VmListings;
import org.servicefarm.controller.model.HostRecord.HostStatus;
import org.servicefarm.controller.model.VmState;

/**
 * Counts of the VM and host tables, read when /metrics is scraped: one grouped query each. The
 * tables are the truth every controller shares, so a follower reports the same as the leader and
 * no bookkeeping rides on the paths that change a VM or host; a scrape every 15 s costs two
 * index-free counts, which at 100,000 VM rows take a few milliseconds.
 */
final class FarmCensus {
  private final Database db;

  FarmCensus(Database db) {
    this.db = db;
  }

  /** Every state, 0 when no VM is in it, so a series does not vanish when its last VM leaves. */
  Map<VmState, Long> vmsByState() {
    Map<VmState, Long> counts = new EnumMap<>(VmState.class);
    for (VmState state : VmState.values()) {
      counts.put(state, 0L);
    }
    VmListings.countsByState(db).forEach((state, n) -> counts.put(state, (long) n));
    return counts;
  }

  /** Every status, 0 when no host has it. */
  Map<HostStatus, Long> hostsByStatus() {
    Map<HostStatus, Long> counts = new EnumMap<>(HostStatus.class);
    for (HostStatus status : HostStatus.values()) {
      counts.put(status, 0L);
    }
    HostRepository.countsByStatus(db).forEach((status, n) -> counts.put(status, (long) n));
    return counts;
  }
}
