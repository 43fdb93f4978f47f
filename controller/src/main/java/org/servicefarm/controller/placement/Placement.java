package org.servicefarm.controller.placement;

import java.util.List;
import java.util.Map;

/** The scheduler's answer: hosts ranked best first, or why none fits. */
public sealed interface Placement {

  /** Hosts that fit, best first; callers try them in order when a commit-time check fails. */
  record Ranked(List<RankedHost> hosts) implements Placement {}

  /**
   * No host fits.
   *
   * @param rejections how many hosts each rule turned away, in pipeline order
   * @param noHosts true when there are no hosts at all (no agent has registered)
   */
  record NoHost(Map<HostFilter, Integer> rejections, boolean noHosts, String message)
      implements Placement {}

  /** A feasible host and its score (lower is better). */
  record RankedHost(String hostId, double score) {}
}
