package org.servicefarm.controller.operations;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;
import org.servicefarm.api.v1.CommandResult;

/**
 * The hops of a request that wakes a SLEEPING VM, each with its time, so that where a wake's time
 * goes can be read from the controller's log (the real-guest benchmark prints it): the decision,
 * the resume command sent, the agent taking it off its stream, the managed-save restore begun and
 * done on the host, the result back here, the VM recorded ACTIVE (its waiters woken) and the
 * answer committed. The agent's times come in its result, from its own clock: on one machine the
 * two agree; across machines their difference includes the clocks' offset.
 *
 * <p>One timeline a VM, begun by the request that found it SLEEPING and ended (logged) by that
 * request alone; concurrent requests for the same VM join the wake without a timeline of their
 * own. Nothing here waits or writes: a hop whose VM has no open timeline is dropped.
 */
public final class WakeTimelines {
  private static final Logger LOG = Logger.getLogger(WakeTimelines.class.getName());

  /** A wake's hops, in the order they happen. */
  public enum Hop {
    DECIDED("decided"),
    COMMAND_SENT("command sent"),
    AGENT_RECEIVED("agent received"),
    RESTORE_STARTED("restore started"),
    RESTORE_DONE("restore done"),
    RESULT_RECEIVED("result received"),
    RECORDED_ACTIVE("recorded ACTIVE"),
    ANSWERED("answered");

    private final String label;

    Hop(String label) {
      this.label = label;
    }

    public String label() {
      return label;
    }
  }

  /** One wake's hop times, in microseconds since the Unix epoch (0: not reached). */
  public static final class Timeline {
    private final UUID vmId;
    private final long requestedMicros;
    private final long[] micros = new long[Hop.values().length];

    Timeline(UUID vmId, long requestedMicros) {
      this.vmId = vmId;
      this.requestedMicros = requestedMicros;
    }

    /** The first time counts: a request that joined the wake reaches the same hops later. */
    void mark(Hop hop, long at) {
      if (at > 0 && micros[hop.ordinal()] == 0) {
        micros[hop.ordinal()] = at;
      }
    }

    /** Each reached hop's time from the request, e.g. "decided +1.9 ms, ...". */
    public String describe() {
      StringBuilder line = new StringBuilder();
      for (Hop hop : Hop.values()) {
        long at = micros[hop.ordinal()];
        if (at == 0) {
          continue;
        }
        if (line.length() > 0) {
          line.append(", ");
        }
        line.append(hop.label()).append(" +")
            .append(String.format(java.util.Locale.ROOT, "%.1f", (at - requestedMicros) / 1000.0))
            .append(" ms");
      }
      return line.toString();
    }
  }

  private final Map<UUID, Timeline> open = new ConcurrentHashMap<>();

  /**
   * Begins the VM's wake timeline at {@code requestedMicros}; null when another request's is
   * open already (this one joins that wake and records nothing).
   */
  public Timeline begin(UUID vmId, long requestedMicros) {
    Timeline timeline = new Timeline(vmId, requestedMicros);
    return open.putIfAbsent(vmId, timeline) == null ? timeline : null;
  }

  /** The VM's wake reached the hop now. */
  public void mark(UUID vmId, Hop hop) {
    mark(vmId, hop, nowMicros());
  }

  private void mark(UUID vmId, Hop hop, long at) {
    Timeline timeline = open.get(vmId);
    if (timeline != null) {
      timeline.mark(hop, at);
    }
  }

  /** The agent's result came back now: its own times, and the result's arrival. */
  public void agentAnswered(UUID vmId, CommandResult result) {
    mark(vmId, Hop.AGENT_RECEIVED, result.getReceivedMicros());
    mark(vmId, Hop.RESTORE_STARTED, result.getWorkStartedMicros());
    mark(vmId, Hop.RESTORE_DONE, result.getWorkDoneMicros());
    mark(vmId, Hop.RESULT_RECEIVED, nowMicros());
  }

  /**
   * Ends the timeline its request began; a wake that was answered logs it (a failed one's
   * failure says enough).
   */
  public void end(Timeline timeline, boolean answered) {
    if (timeline == null || !open.remove(timeline.vmId, timeline)) {
      return;
    }
    if (answered) {
      LOG.info(() -> "wake timeline of VM " + timeline.vmId + ": " + timeline.describe()
          + " (from the request)");
    }
  }

  /** Now, in microseconds since the Unix epoch (the agent's results use the same unit). */
  public static long nowMicros() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
  }
}
