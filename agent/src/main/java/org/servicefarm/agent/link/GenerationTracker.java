package org.servicefarm.agent.link;

import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * The highest generation seen per VM, from commands and from the inventory (which carries the
 * generation recorded in each domain, so the memory survives agent restarts). A command older
 * than that is stale: the controller has since decided something newer about the VM.
 */
public final class GenerationTracker {

  private final ConcurrentMap<String, Long> highest = new ConcurrentHashMap<>();

  /**
   * Records {@code generation} for the VM unless a newer one was seen.
   *
   * @return the newer generation when {@code generation} is stale, else empty
   */
  public OptionalLong admit(String vmId, long generation) {
    long after = highest.merge(vmId, generation, Math::max);
    return after > generation ? OptionalLong.of(after) : OptionalLong.empty();
  }

  /** Remembers a generation reported by the hypervisor. */
  public void observe(String vmId, long generation) {
    highest.merge(vmId, generation, Math::max);
  }
}
