package org.servicefarm.controller.hosts;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.servicefarm.controller.db.HostRepository.LoadRow;
import org.servicefarm.controller.model.HostRecord.HostLoad;

/**
 * Each host's latest reported load and the copy the hosts table holds: pure bookkeeping, no I/O,
 * so the flusher can write exactly the hosts whose load changed, in one statement. A host's row
 * is rewritten at most once per {@code minInterval}; a load that did not change is never
 * rewritten (liveness is kept in memory, not in the row).
 */
final class ReportedLoads {
  private record Entry(HostLoad latest, Instant reportedAt, HostLoad stored, Instant storedAt) {}

  private final Map<String, Entry> hosts = new ConcurrentHashMap<>();
  private final Duration minInterval;

  ReportedLoads(Duration minInterval) {
    this.minInterval = minInterval;
  }

  /** The table holds this load now (a registration wrote it). */
  void stored(String hostId, HostLoad load, Instant at) {
    hosts.put(hostId, new Entry(load, at, load, at));
  }

  void reported(String hostId, HostLoad load, Instant at) {
    hosts.compute(hostId, (id, e) -> e == null
        // Not registered through this book (another controller led then): the table's copy is
        // unknown, so the first report is written.
        ? new Entry(load, at, null, Instant.EPOCH)
        : new Entry(load, at, e.stored(), e.storedAt()));
  }

  /** The hosts whose load differs from the table's copy and may be written now. */
  List<LoadRow> due(Instant now) {
    List<LoadRow> due = new ArrayList<>();
    hosts.forEach((id, e) -> {
      if (!e.latest().equals(e.stored())
          && Duration.between(e.storedAt(), now).compareTo(minInterval) >= 0) {
        due.add(new LoadRow(id, e.latest(), e.reportedAt()));
      }
    });
    return due;
  }

  /** These rows were committed at {@code at}. */
  void written(List<LoadRow> rows, Instant at) {
    for (LoadRow row : rows) {
      hosts.computeIfPresent(row.id(),
          (id, e) -> new Entry(e.latest(), e.reportedAt(), row.load(), at));
    }
  }
}
