package org.servicefarm.controller.reconcile;

import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Which orphan domains each host keeps showing, and since when: pure bookkeeping, no I/O, so the
 * rules are tested without a database or an agent.
 *
 * <p>An orphan is confirmed when a registration (the host's whole inventory) shows it, or when two
 * load reports in a row do: a single load report can be stale (sampled before a delete the
 * controller has since recorded), and a stale sighting must not be announced or counted. A domain
 * missing from a host's report is forgotten, so its grace period starts again if it reappears.
 */
final class OrphanSightings {

  /** One orphan domain as it stands after a report. */
  record Sighting(Instant firstSeen, int reports, boolean confirmed, boolean removing) {
    Duration age(Instant now) {
      return Duration.between(firstSeen, now);
    }
  }

  /** An orphan in a report, and whether it became confirmed with this report. */
  record Seen(String vmId, Sighting sighting, boolean newlyConfirmed) {}

  // host id → VM id → sighting
  private final Map<String, Map<String, Sighting>> byHost = new HashMap<>();

  /**
   * Records one report of the host's orphan domains (every orphan it shows now).
   *
   * @param wholeInventory true for a registration, which confirms what it shows at once
   */
  synchronized Map<String, Seen> report(String hostId, Collection<String> orphanVmIds,
      boolean wholeInventory, Instant now) {
    Map<String, Sighting> before = byHost.getOrDefault(hostId, Map.of());
    Map<String, Sighting> after = new HashMap<>();
    Map<String, Seen> seen = new LinkedHashMap<>();
    for (String vmId : orphanVmIds) {
      Sighting last = before.get(vmId);
      Instant first = last == null ? now : last.firstSeen();
      int reports = last == null ? 1 : last.reports() + 1;
      boolean wasConfirmed = last != null && last.confirmed();
      boolean confirmed = wasConfirmed || wholeInventory || reports >= 2;
      Sighting current = new Sighting(first, reports, confirmed, last != null && last.removing());
      after.put(vmId, current);
      // A registration announces what it shows again, as it always has: a restarted agent's
      // report is worth an event even for an orphan already known.
      seen.put(vmId, new Seen(vmId, current, confirmed && (!wasConfirmed || wholeInventory)));
    }
    if (after.isEmpty()) {
      byHost.remove(hostId);
    } else {
      byHost.put(hostId, after);
    }
    return seen;
  }

  /** Marks a removal under way; false when one already is, or the orphan is no longer seen. */
  synchronized boolean startRemoving(String hostId, String vmId) {
    Sighting s = byHost.getOrDefault(hostId, Map.of()).get(vmId);
    if (s == null || s.removing()) {
      return false;
    }
    byHost.get(hostId).put(vmId, new Sighting(s.firstSeen(), s.reports(), s.confirmed(), true));
    return true;
  }

  /** A removal ended: gone when it worked, otherwise eligible again at the next report. */
  synchronized void removingEnded(String hostId, String vmId, boolean removed) {
    Map<String, Sighting> host = byHost.get(hostId);
    Sighting s = host == null ? null : host.get(vmId);
    if (s == null) {
      return;
    }
    if (removed) {
      host.remove(vmId);
    } else {
      host.put(vmId, new Sighting(s.firstSeen(), s.reports(), s.confirmed(), false));
    }
  }
}
