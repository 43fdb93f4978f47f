package org.servicefarm.agent.link;

/** Told how each controller command ended (the agent's metrics time them). */
@FunctionalInterface
public interface CommandObserver {
  CommandObserver NONE = (kind, outcome, nanos) -> { };

  /**
   * @param kind the command's action: install, start, suspend, resume, archive, restore, delete
   * @param outcome ok, or the error kind: stale_generation, not_found, invalid, hypervisor, image
   * @param nanos how long it ran
   */
  void finished(String kind, String outcome, long nanos);
}
