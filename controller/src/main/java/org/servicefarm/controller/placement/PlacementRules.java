package org.servicefarm.controller.placement;

import java.util.List;
import java.util.Map;

/**
 * A definition's placement rules and what they need to know of its VMs: the labels its hosts must
 * carry, the label its VMs spread over (or null), and how many of its VMs each host holds now,
 * which spread and anti-affinity weigh. Loaded by the database side (PlacementRuleRepository);
 * the scheduler only reads it.
 *
 * <p>Anti-affinity needs no setting: every definition's VMs keep apart, softly (a host holding
 * fewer of them always ranks first, whatever the load), because two instances of one service on
 * one host fail together.
 *
 * @param service the definition's name, for the reason no host can take its VM
 * @param constraints host labels required, key to value
 * @param spread how its VMs spread over a label's values; null: they do not
 * @param instancesPerHost host id to the definition's VMs holding resources there (absent: none)
 * @param spreadCounts the spread's counts on the snapshot, set by {@link #prepared}
 */
public record PlacementRules(String service, Map<String, String> constraints, SpreadRule spread,
    Map<String, Integer> instancesPerHost, SpreadCounts spreadCounts) {

  /** No rules: a VM that is not a definition's, or a definition that says nothing. */
  public static final PlacementRules NONE = new PlacementRules("", Map.of(), null, Map.of());

  public PlacementRules(String service, Map<String, String> constraints, SpreadRule spread,
      Map<String, Integer> instancesPerHost) {
    this(service, constraints, spread, instancesPerHost, null);
  }

  /** The rules with the spread counted on these hosts, ready for the filters and weighers. */
  PlacementRules prepared(List<HostSnapshot> hosts) {
    if (spread == null || spreadCounts != null) {
      return this;
    }
    return new PlacementRules(service, constraints, spread, instancesPerHost,
        SpreadCounts.of(spread, constraints, instancesPerHost, hosts));
  }

  /** Whether any host filter comes from these rules (constraints or a hard spread). */
  boolean filters() {
    return !constraints.isEmpty() || (spread != null && spread.hard());
  }

  /** Whether any weigher comes from these rules (a soft spread, or VMs to keep apart). */
  boolean weighs() {
    return (spread != null && !spread.hard()) || !instancesPerHost.isEmpty();
  }

  /** Whether the hard rules turn the host away by its labels. */
  boolean constraintRejects(HostSnapshot host) {
    return LabelConstraints.rejects(constraints, host);
  }

  /** Whether a hard spread turns the host away: a VM there would break the skew. */
  boolean hardSpreadRejects(HostSnapshot host) {
    return spread != null && spread.hard() && counts().excess(host) > 0;
  }

  /** How far a VM on the host would take a soft spread past its skew (0: within it). */
  int softSpreadExcess(HostSnapshot host) {
    return spread == null || spread.hard() ? 0 : counts().excess(host);
  }

  /** The definition's VMs on the host now. */
  int instancesOn(HostSnapshot host) {
    return instancesPerHost.isEmpty() ? 0 : instancesPerHost.getOrDefault(host.id(), 0);
  }

  private SpreadCounts counts() {
    if (spreadCounts == null) {
      throw new IllegalStateException("spread rules used before they were prepared on a snapshot");
    }
    return spreadCounts;
  }
}
