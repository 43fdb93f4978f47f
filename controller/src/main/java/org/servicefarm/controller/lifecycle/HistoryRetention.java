package org.servicefarm.controller.lifecycle;

import java.time.Duration;

/**
 * How long the farm keeps its history: the rows of DELETED VMs (with their operations, leases
 * and offers) and events. A long-lived farm would otherwise pile up rows that nothing reads but
 * listings and backups. {@link Duration#ZERO} keeps them forever.
 *
 * @param deletedVms a DELETED VM's row is removed this long after it was deleted
 * @param events an event is removed this long after it happened
 */
public record HistoryRetention(Duration deletedVms, Duration events) {
  public static final Duration DEFAULT_DELETED_VMS = Duration.ofDays(30);
  public static final Duration DEFAULT_EVENTS = Duration.ofDays(90);

  public HistoryRetention {
    if (deletedVms.isNegative() || events.isNegative()) {
      throw new IllegalArgumentException("a retention cannot be negative: deleted VMs "
          + deletedVms + ", events " + events);
    }
  }

  public static HistoryRetention defaults() {
    return new HistoryRetention(DEFAULT_DELETED_VMS, DEFAULT_EVENTS);
  }
}
