package org.servicefarm.controller.reconcile;

import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.logging.Logger;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.FencedDatabase;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.hosts.AgentSession;

/**
 * What the controller does with an orphan: a farm domain on a host that the VM table does not
 * place there (a VM row removed by hand, a domain defined outside the farm with its metadata, a
 * leftover the table never learned of). Every confirmed orphan is recorded as an {@code ORPHAN}
 * event. With {@link Mode#REPORT} (the default) nothing more happens. With {@link Mode#DELETE} the
 * domain is removed by a delete command once it has been seen for the grace period, and never
 * while a VM row (other than a DELETED one) or a live lease refers to its VM id: such a domain is
 * reported as kept, because it may be the only copy of a VM someone holds.
 */
public final class OrphanPolicy {
  private static final Logger LOG = Logger.getLogger(OrphanPolicy.class.getName());

  /** What to do with an orphan once reported. */
  public enum Mode { REPORT, DELETE }

  /** @param grace how long a delete waits after the orphan was first seen */
  public record Settings(Mode mode, Duration grace) {
    public static final Duration DEFAULT_GRACE = Duration.ofSeconds(60);

    public static Settings reportOnly() {
      return new Settings(Mode.REPORT, DEFAULT_GRACE);
    }
  }

  private final Settings settings;
  private final FencedDatabase db;
  private final VmRepository vms;
  private final EventRepository events;
  private final AgentRegistry agents;
  private final Duration commandTimeout;
  private final Clock clock;
  private final OrphanSightings sightings = new OrphanSightings();
  private final OrphanEventBudget budget = new OrphanEventBudget();

  public OrphanPolicy(Settings settings, FencedDatabase db, VmRepository vms,
      EventRepository events, AgentRegistry agents, Duration commandTimeout, Clock clock) {
    this.settings = settings;
    this.db = db;
    this.vms = vms;
    this.events = events;
    this.agents = agents;
    this.commandTimeout = commandTimeout;
    this.clock = clock;
  }

  /**
   * Takes a committed report's orphans (every one the host shows now): appends an event for each
   * newly confirmed one and, with DELETE, removes those due. Bookkeeping happens outside the
   * event's transaction, so a retried transaction neither loses nor doubles an event.
   */
  void sighted(String hostId, Collection<DomainStatus> orphans, boolean wholeInventory) {
    Map<String, DomainStatus> byId = new LinkedHashMap<>();
    orphans.forEach(d -> byId.put(d.getVmId(), d));
    Instant now = clock.instant();
    Map<String, OrphanSightings.Seen> seen =
        sightings.report(hostId, byId.keySet(), wholeInventory, now);
    if (seen.isEmpty()) {
      return;
    }
    List<DomainStatus> due = db.inTransaction(tx -> announce(tx, hostId, byId, seen, now));
    due.forEach(orphan -> remove(hostId, orphan));
  }

  /** Records the newly confirmed orphans; answers those due for removal. */
  private List<DomainStatus> announce(Database.Tx tx, String hostId,
      Map<String, DomainStatus> byId, Map<String, OrphanSightings.Seen> seen, Instant now)
      throws SQLException {
    Set<String> claimed = vms.claimedIds(tx, byId.keySet());
    List<DomainStatus> due = new ArrayList<>();
    for (OrphanSightings.Seen s : seen.values()) {
      DomainStatus domain = byId.get(s.vmId());
      boolean kept = claimed.contains(s.vmId());
      OrphanEventBudget.Spend spend = s.newlyConfirmed() ? budget.spend(hostId, now) : null;
      if (spend != null && spend.firstSkipped()) {
        LOG.warning("host " + hostId + " reports more than " + OrphanEventBudget.PER_HOST_PER_MINUTE
            + " orphan domains a minute; the rest of this minute's are counted, not recorded");
      }
      if (spend != null && spend.record()) {
        String skipped = spend.skippedBefore() == 0 ? "" : " (" + spend.skippedBefore()
            + " more orphans of this host in the minute before were not recorded one by one:"
            + " at most " + OrphanEventBudget.PER_HOST_PER_MINUTE + " a minute)";
        events.append(tx, "ORPHAN", parseOrNull(s.vmId()), hostId, null, null,
            domain.getPower().name(), "host " + hostId + " runs a farm domain for VM " + s.vmId()
                + " that the VM table does not place there; " + fate(kept) + skipped);
        LOG.warning("orphan domain for VM " + s.vmId() + " on host " + hostId + ": " + fate(kept)
            + skipped);
      }
      if (settings.mode() == Mode.DELETE && !kept && s.sighting().confirmed()
          && !s.sighting().removing() && s.sighting().age(now).compareTo(settings.grace()) >= 0) {
        due.add(domain);
      }
    }
    return due;
  }

  /** Sends the host a delete of the orphan; the outcome is recorded when the host answers. */
  private void remove(String hostId, DomainStatus orphan) {
    String vmId = orphan.getVmId();
    Optional<AgentSession> session = agents.session(hostId);
    if (session.isEmpty() || !sightings.startRemoving(hostId, vmId)) {
      return;
    }
    // Checked again on its own: a report's view may be older than a restore placed just now.
    if (!db.inTransaction(tx -> vms.claimedIds(tx, Set.of(vmId))).isEmpty()) {
      sightings.removingEnded(hostId, vmId, false);
      return;
    }
    session.get().send(CommandFactory.deleteOrphan(vmId, orphan.getGeneration()), commandTimeout)
        .whenCompleteAsync((result, error) -> {
          boolean removed = error == null && result.getOk();
          if (removed) {
            db.inTransaction(tx -> {
              events.append(tx, "ORPHAN", parseOrNull(vmId), hostId, null,
                  orphan.getPower().name(), "DELETED", "orphan domain of VM " + vmId
                      + " removed from host " + hostId + " by --orphans delete, unclaimed for "
                      + settings.grace().toSeconds() + " s or more");
              return null;
            });
          } else {
            // The agent's words, escaped: a log line is one line.
            LOG.warning("orphan domain of VM " + vmId + " on host " + hostId + " not removed: "
                + escaped(error != null ? String.valueOf(error.getMessage())
                    : result.getError()));
          }
          sightings.removingEnded(hostId, vmId, removed);
        });
  }

  private String fate(boolean kept) {
    if (kept) {
      return "kept: a VM row or a live lease refers to it";
    }
    return settings.mode() == Mode.DELETE
        ? "to be deleted once unclaimed for " + settings.grace().toSeconds() + " s"
        : "left untouched (--orphans report)";
  }

  /** Text from an agent as one log line: control characters shown, at most 300 characters. */
  private static String escaped(String text) {
    StringBuilder out = new StringBuilder();
    text.codePoints().limit(300).forEach(c -> {
      if (c < 0x20 || c == 0x7f) {
        out.append(String.format("\\x%02x", c));
      } else {
        out.appendCodePoint(c);
      }
    });
    return out.toString();
  }

  private static UUID parseOrNull(String id) {
    try {
      return UUID.fromString(id);
    } catch (IllegalArgumentException notAUuid) {
      return null; // recorded without a VM id; the cause text names what the host sent
    }
  }
}
