package org.servicefarm.gateway;

/** How a connection reached its VM: the label of the time-to-first-byte metric and header. */
public enum WakePath {
  /** A VM was ACTIVE already. */
  ACTIVE,
  /** The VM slept and the farm woke it. */
  WOKE,
  /** The VM was archived and the farm restored it. */
  RESTORED,
  /** No VM offered the service; the farm built and booted one. */
  BUILT;

  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
