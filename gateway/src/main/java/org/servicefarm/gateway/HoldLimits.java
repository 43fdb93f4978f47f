package org.servicefarm.gateway;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Bounds on connections the gateway holds without a VM to splice them to: per service, so one
 * sleeping service flooded with connections cannot take every slot, and in all (HTTP requests
 * still sending their head count here too), so held connections cost bounded memory.
 */
final class HoldLimits {
  private final int perService;
  private final int total;
  private final AtomicInteger held = new AtomicInteger();
  private final Map<String, AtomicInteger> byService = new ConcurrentHashMap<>();

  HoldLimits(int perService, int total) {
    this.perService = perService;
    this.total = total;
  }

  /** Takes one of the gateway's slots; false when all are taken. */
  boolean tryTotal() {
    if (held.incrementAndGet() > total) {
      held.decrementAndGet();
      return false;
    }
    return true;
  }

  void releaseTotal() {
    held.decrementAndGet();
  }

  /** Takes one of the service's slots; false when all are taken. */
  boolean tryService(String service) {
    AtomicInteger n = byService.computeIfAbsent(service, s -> new AtomicInteger());
    if (n.incrementAndGet() > perService) {
      n.decrementAndGet();
      return false;
    }
    return true;
  }

  void releaseService(String service) {
    byService.get(service).decrementAndGet();
  }

  int heldTotal() {
    return held.get();
  }
}
