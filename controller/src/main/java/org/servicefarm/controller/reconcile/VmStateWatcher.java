package org.servicefarm.controller.reconcile;

import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import org.servicefarm.controller.model.VmRecord;

/**
 * Lets callers wait for a VM to reach a state. Whoever commits a VM change publishes the new row
 * here; waiters whose condition holds complete. Callers re-read the row after registering so a
 * change committed in between is not missed.
 */
public final class VmStateWatcher {
  private record Waiter(Predicate<VmRecord> condition, CompletableFuture<VmRecord> future) {}

  private final Map<UUID, List<Waiter>> waiters = new ConcurrentHashMap<>();

  public CompletableFuture<VmRecord> await(UUID vmId, Predicate<VmRecord> condition) {
    CompletableFuture<VmRecord> future = new CompletableFuture<>();
    Waiter waiter = new Waiter(condition, future);
    waiters.computeIfAbsent(vmId, k -> new CopyOnWriteArrayList<>()).add(waiter);
    future.whenComplete(
        (r, e) ->
            waiters.computeIfPresent(
                vmId,
                (k, list) -> {
                  list.remove(waiter);
                  return list.isEmpty() ? null : list;
                }));
    return future;
  }

  public void publish(VmRecord vm) {
    List<Waiter> list = waiters.get(vm.id());
    if (list == null) {
      return;
    }
    for (Waiter w : list) {
      if (w.condition().test(vm)) {
        w.future().complete(vm);
      }
    }
  }

  /** Tells everyone waiting on the VM that it cannot get there now (e.g. no host has room). */
  public void fail(UUID vmId, RuntimeException why) {
    List<Waiter> list = waiters.get(vmId);
    if (list != null) {
      list.forEach(w -> w.future().completeExceptionally(why));
    }
  }
}
