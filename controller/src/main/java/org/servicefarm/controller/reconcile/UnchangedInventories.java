package org.servicefarm.controller.reconcile;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.servicefarm.api.v1.DomainStatus;

/**
 * Which hosts' reports are known to change nothing: pure bookkeeping, no I/O. A host is steady
 * when the last report squared with the table changed no VM and showed no orphan; the same
 * domains reported again then need no database at all. A change to any of the host's VMs (seen
 * by {@link #changed}) ends that, so the next report is squared with the table again.
 *
 * <p>A report that reads the table takes a {@link Stamp} first: a change noted while it reads
 * makes the stamp stale, and a stale stamp cannot mark the host steady.
 */
final class UnchangedInventories {
  /** The change counts a report saw before it read the table. */
  record Stamp(long host, long all) {}

  private record Steady(String digest, Stamp stamp) {}

  private final Map<String, Steady> steady = new ConcurrentHashMap<>();
  private final Map<String, Long> hostChanges = new ConcurrentHashMap<>();
  private final AtomicLong allChanges = new AtomicLong();

  Stamp stamp(String hostId) {
    // all first: a change of every host bumps it after clearing, so reading it first is safe.
    long all = allChanges.get();
    return new Stamp(hostChanges.getOrDefault(hostId, 0L), all);
  }

  /** Whether these domains (by {@link #digest}) are what the host last reported while steady. */
  boolean known(String hostId, String digest) {
    Steady s = steady.get(hostId);
    return s != null && s.digest().equals(digest) && s.stamp().equals(stamp(hostId));
  }

  /** Whether the host's last report settled and none of its VMs changed since. */
  boolean steady(String hostId) {
    Steady s = steady.get(hostId);
    return s != null && s.stamp().equals(stamp(hostId));
  }

  /** A report read under {@code before} changed nothing; its domains are known until a change. */
  void settled(String hostId, String digest, Stamp before) {
    steady.put(hostId, new Steady(digest, before));
  }

  void unsettled(String hostId) {
    steady.remove(hostId);
  }

  /** A VM on the host changed (or left it): its next report is squared with the table. */
  void changed(String hostId) {
    hostChanges.merge(hostId, 1L, Long::sum);
    steady.remove(hostId);
  }

  /** A change whose host is not known: every host's next report is squared with the table. */
  void changedAll() {
    allChanges.incrementAndGet();
    steady.clear();
  }

  /** A digest of the domains, independent of their order. */
  static String digest(List<DomainStatus> domains) {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
    domains.stream().sorted(Comparator.comparing(DomainStatus::getVmId)).forEach(d -> {
      byte[] bytes = d.toByteArray();
      sha.update(ByteBuffer.allocate(4).putInt(bytes.length).array());
      sha.update(bytes);
    });
    return HexFormat.of().formatHex(sha.digest());
  }
}
