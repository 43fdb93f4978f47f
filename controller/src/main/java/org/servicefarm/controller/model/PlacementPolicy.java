package org.servicefarm.controller.model;

import java.util.Map;

/**
 * Where a definition's VMs may go: the host labels they require, and the host label they spread
 * over (with how hard and how evenly). Anti-affinity needs no setting: a definition's VMs always
 * keep apart where they can.
 *
 * @param constraints label key to the value a host must carry
 * @param spreadBy the label whose values the VMs spread over; empty: no spread
 * @param spreadHard refuse a host breaking the skew, rather than rank it last
 * @param spreadMaxSkew how many more VMs one value's hosts may hold than the fewest (at least 1)
 */
public record PlacementPolicy(Map<String, String> constraints, String spreadBy,
    boolean spreadHard, int spreadMaxSkew) {

  /** A definition that says nothing: anywhere, no spread. */
  public static final PlacementPolicy NONE = new PlacementPolicy(Map.of(), "", false, 1);

  public boolean spreads() {
    return !spreadBy.isEmpty();
  }
}
