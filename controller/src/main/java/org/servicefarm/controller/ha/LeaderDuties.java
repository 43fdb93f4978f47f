package org.servicefarm.controller.ha;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * What only the leading controller does, in one place: the periodic duties (reconcile sweep,
 * liveness, idle ladder, drain passes) run while it leads and stop when it steps down, and hooks
 * run at each change (resuming operations when elected, dropping agents' streams when demoted).
 */
public final class LeaderDuties implements LeaderElection.Listener, AutoCloseable {
  private static final Logger LOG = Logger.getLogger(LeaderDuties.class.getName());

  private record Duty(String name, Duration every, Runnable task) {}

  private final List<Duty> duties = new ArrayList<>();
  private final List<Runnable> onElected = new ArrayList<>();
  private final List<Consumer<String>> onDemoted = new ArrayList<>();
  private final ScheduledExecutorService timer = Executors.newScheduledThreadPool(2, r -> {
    Thread t = new Thread(r, "leader-duty");
    t.setDaemon(true);
    return t;
  });
  private final List<ScheduledFuture<?>> running = new ArrayList<>(); // guarded by this
  /** Told how long each run of a duty took, by the duty's name (the duty time metric). */
  private volatile java.util.function.ObjLongConsumer<String> timing = (name, nanos) -> { };

  /** Who hears how long each run of a duty took, in nanoseconds. */
  public LeaderDuties timedBy(java.util.function.ObjLongConsumer<String> listener) {
    this.timing = listener;
    return this;
  }

  /** A task the leader runs every period; a failure is logged and the next run tries again. */
  public LeaderDuties every(String name, Duration period, Runnable task) {
    duties.add(new Duty(name, period, task));
    return this;
  }

  /** A hook run once each time this controller is elected, before the duties start. */
  public LeaderDuties whenElected(Runnable hook) {
    onElected.add(hook);
    return this;
  }

  /** A hook run once each time this controller stops leading, after the duties stop. */
  public LeaderDuties whenDemoted(Consumer<String> hook) {
    onDemoted.add(hook);
    return this;
  }

  @Override
  public synchronized void elected(long epoch) {
    onElected.forEach(hook -> guarded("on election", hook));
    for (Duty duty : duties) {
      long millis = duty.every().toMillis();
      running.add(timer.scheduleWithFixedDelay(() -> {
        long start = System.nanoTime();
        guarded(duty.name(), duty.task());
        timing.accept(duty.name(), System.nanoTime() - start);
      }, millis, millis, TimeUnit.MILLISECONDS));
    }
  }

  @Override
  public synchronized void demoted(String why) {
    running.forEach(f -> f.cancel(false));
    running.clear();
    onDemoted.forEach(hook -> guarded("on demotion", () -> hook.accept(why)));
  }

  // A periodic task that throws is never run again; log the failure and keep the schedule.
  private static void guarded(String name, Runnable task) {
    try {
      task.run();
    } catch (RuntimeException e) {
      LOG.log(Level.SEVERE, "leader duty '" + name + "' failed; it runs again next period", e);
    }
  }

  @Override
  public synchronized void close() {
    running.forEach(f -> f.cancel(false));
    running.clear();
    timer.shutdownNow();
  }
}
