package org.servicefarm.controller.placement;

/**
 * Spreading a definition's VMs over the values of a host label ({@code --spread-by rack}): a VM
 * may go to a host of value v only while (VMs on v's hosts + 1) - (fewest VMs on any value's
 * hosts) stays within {@code maxSkew}. Hard: other hosts are ruled out. Soft: they are only
 * ranked after every host that keeps the skew (see {@link SpreadCounts#excess}).
 *
 * @param labelKey the host label whose values are the domains spread over
 * @param hard whether a host breaking the skew is ruled out rather than ranked last
 * @param maxSkew how many more VMs one value's hosts may hold than the fewest, at least 1
 */
public record SpreadRule(String labelKey, boolean hard, int maxSkew) {

  public SpreadRule {
    if (maxSkew < 1) {
      throw new IllegalArgumentException("spread max skew must be at least 1, got " + maxSkew);
    }
  }

  /** "hard spread over rack (skew 1)". */
  String describe() {
    return (hard ? "hard" : "soft") + " spread over " + labelKey + " (skew " + maxSkew + ")";
  }
}
