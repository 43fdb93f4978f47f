package org.servicefarm.agent.link;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs tasks on a shared pool so that tasks for one VM run one after another, in submission
 * order, while tasks for different VMs run in parallel. Each VM's queue is the tail of a chain of
 * futures; the entry is dropped once the chain has drained.
 */
public final class VmSerialExecutor implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(VmSerialExecutor.class);

  private final ExecutorService pool;
  private final Map<String, CompletableFuture<Void>> tails = new HashMap<>(); // guarded by this

  public VmSerialExecutor(int threads) {
    this.pool = Executors.newFixedThreadPool(threads, namedDaemonThreads("vm-command"));
  }

  /** Queues the task behind earlier tasks of the same VM. */
  public synchronized CompletableFuture<Void> submit(String vmId, Runnable task) {
    CompletableFuture<Void> previous =
        tails.getOrDefault(vmId, CompletableFuture.completedFuture(null));
    // A failed predecessor must not stop the VM's later tasks; it was logged when it failed.
    CompletableFuture<Void> next = previous.handle((ignored, failure) -> (Void) null)
        .thenRunAsync(task, pool);
    tails.put(vmId, next);
    next.whenComplete((ignored, failure) -> {
      if (failure != null) {
        log.error("task for vm {} failed", vmId, failure);
      }
      synchronized (this) {
        tails.remove(vmId, next);
      }
    });
    return next;
  }

  /** Waits up to {@code timeout} for queued tasks to finish, then stops the pool. */
  public void shutdown(long timeout, TimeUnit unit) throws InterruptedException {
    CompletableFuture<?>[] pending;
    synchronized (this) {
      pending = tails.values().stream()
          .map(tail -> tail.handle((ignored, failure) -> (Void) null))
          .toArray(CompletableFuture<?>[]::new);
    }
    try {
      CompletableFuture.allOf(pending).get(timeout, unit);
    } catch (ExecutionException e) {
      throw new IllegalStateException("a handled future failed", e);
    } catch (TimeoutException e) {
      log.warn("VM commands still running after {} {}; abandoning them", timeout, unit);
    }
    pool.shutdownNow();
  }

  @Override
  public void close() {
    pool.shutdownNow();
  }

  static ThreadFactory namedDaemonThreads(String prefix) {
    AtomicInteger counter = new AtomicInteger();
    return runnable -> {
      Thread thread = new Thread(runnable, prefix + "-" + counter.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }
}
