package org.servicefarm.controller.placement;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.servicefarm.controller.model.HostRecord.HostStatus;

/**
 * A definition's VMs per value of its spread label, taken once per decision from the snapshot:
 * the count on each value's hosts, and the fewest on any value a VM could go to.
 *
 * <p>The values counted for the fewest are those of hosts that could take VMs at all (UP) and meet
 * the definition's constraints, whether or not they have room now: a full rack still counts, so a
 * hard spread refuses to pile onto the other racks instead of drifting past its skew (as
 * Kubernetes' topology spread does). A down or draining host's value does not, or one dead rack
 * would stop every placement.
 */
public final class SpreadCounts {
  /** The excess of a host without the label: ranked after every host that has it. */
  static final int UNLABELLED = 1_000;

  private final SpreadRule rule;
  private final Map<String, Integer> perValue;
  private final int fewest;

  private SpreadCounts(SpreadRule rule, Map<String, Integer> perValue, int fewest) {
    this.rule = rule;
    this.perValue = perValue;
    this.fewest = fewest;
  }

  static SpreadCounts of(SpreadRule rule, Map<String, String> constraints,
      Map<String, Integer> instancesPerHost, List<HostSnapshot> hosts) {
    Map<String, Integer> perValue = new HashMap<>();
    for (HostSnapshot host : hosts) {
      String value = host.labels().get(rule.labelKey());
      if (value == null) {
        continue;
      }
      int here = instancesPerHost.getOrDefault(host.id(), 0);
      boolean candidate = host.status() == HostStatus.UP
          && !LabelConstraints.rejects(constraints, host);
      if (candidate || here > 0) {
        perValue.merge(value, here, Integer::sum);
      }
    }
    int fewest = Integer.MAX_VALUE;
    for (HostSnapshot host : hosts) {
      String value = host.labels().get(rule.labelKey());
      if (value != null && host.status() == HostStatus.UP
          && !LabelConstraints.rejects(constraints, host)) {
        fewest = Math.min(fewest, perValue.get(value));
      }
    }
    return new SpreadCounts(rule, perValue, fewest == Integer.MAX_VALUE ? 0 : fewest);
  }

  /**
   * How far past the skew one more VM on this host would take the spread: 0 when it stays within
   * it, {@link #UNLABELLED} for a host without the label.
   */
  int excess(HostSnapshot host) {
    String value = host.labels().get(rule.labelKey());
    if (value == null) {
      return UNLABELLED;
    }
    return Math.max(0, perValue.getOrDefault(value, 0) + 1 - fewest - rule.maxSkew());
  }

  SpreadRule rule() {
    return rule;
  }
}
