package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Group commit: the short transactions of concurrent callers run one after another inside one
 * database transaction, which commits once for all of them, so a durable commit (a WAL flush)
 * is paid per batch instead of per caller. Each caller blocks until the batch has committed and
 * is never answered before: what its work wrote is durable when {@link #run} returns.
 *
 * <p>A caller that finds nobody waiting and a batch slot free runs its work itself, as a batch of
 * one, on its own thread: a lone request crosses no thread. Otherwise it waits in the queue, and
 * a worker takes every caller waiting when it comes free, up to {@code maxBatch}; when it found
 * more than one waiting (callers are arriving together) it waits up to {@code linger} for more.
 * At most {@code workers} batches (the workers' and the lone callers') run at once, each on its
 * own connection.
 *
 * <p>The contract of a work: it may throw a {@link RuntimeException} (a refusal, a repeated key)
 * only before it has written anything, and then only its own caller fails, with that exception,
 * once the batch has ended. A database failure ({@link SQLException} or
 * {@link DatabaseException}) aborts the whole transaction: the batch is rolled back (retried
 * whole on a serialization failure or deadlock, as {@link Database#inTransaction} does) and every
 * caller in it fails with that reason, none silently. Locks the works take are held until the
 * batch commits, so works must take only locks that never wait on each other's holders for long
 * (shared locks): an exclusive lock here would hold every other caller of the batch.
 */
public final class GroupCommit implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(GroupCommit.class.getName());

  /** Where a batch is, for crash tests: "written" (not committed), "committed" (nobody told). */
  public interface Boundaries {
    void reached(String boundary);
  }

  private static final class Item<T> {
    final Database.TransactionWork<T> work;
    final CountDownLatch done = new CountDownLatch(1);
    T result;
    RuntimeException failure;

    Item(Database.TransactionWork<T> work) {
      this.work = work;
    }

    void runIn(Database.Tx tx) throws SQLException {
      result = null;
      failure = null;
      try {
        result = work.run(tx);
      } catch (DatabaseException e) {
        throw e;
      } catch (RuntimeException e) {
        failure = e; // wrote nothing (the contract): only this caller fails
      }
    }

    T await() throws InterruptedException {
      done.await();
      if (failure != null) {
        throw failure;
      }
      return result;
    }
  }

  private final Database db;
  private final int maxBatch;
  private final long lingerNanos;
  private final Boundaries boundaries;
  private final BlockingQueue<Item<?>> waiting = new LinkedBlockingQueue<>();
  private final List<Thread> workers = new ArrayList<>();
  private final BatchSizes sizes = new BatchSizes();
  /** Batches that may run at once: the workers' and those of lone callers. */
  private final java.util.concurrent.Semaphore slots;
  /** Held by the one worker collecting the next batch. */
  private final java.util.concurrent.locks.ReentrantLock collecting =
      new java.util.concurrent.locks.ReentrantLock();
  private volatile boolean closed;

  /**
   * @param workers batches run at once, each on its own pooled connection
   * @param maxBatch callers in one batch at most
   * @param linger how long a batch that found several callers waiting waits for more
   */
  public GroupCommit(Database db, String name, int workers, int maxBatch, Duration linger,
      Boundaries boundaries) {
    if (workers < 1 || maxBatch < 1) {
      throw new IllegalArgumentException("group commit needs at least one worker and one caller"
          + " a batch, not " + workers + " and " + maxBatch);
    }
    this.db = db;
    this.maxBatch = maxBatch;
    this.lingerNanos = linger.toNanos();
    this.boundaries = boundaries;
    this.slots = new java.util.concurrent.Semaphore(workers);
    for (int i = 0; i < workers; i++) {
      Thread t = new Thread(this::work, name + "-commit-" + i);
      t.setDaemon(true);
      t.start();
      this.workers.add(t);
    }
  }

  /**
   * Runs {@code work} in the next batch and returns its result once the batch has committed.
   *
   * @throws DatabaseException when the batch could not be committed (nothing of it was)
   * @throws RuntimeException what the work itself threw, after the batch ended
   */
  public <T> T run(Database.TransactionWork<T> work) {
    if (closed) {
      throw DatabaseException.unavailable("the controller is stopping; nothing was written");
    }
    Item<T> item = new Item<>(work);
    if (waiting.isEmpty() && slots.tryAcquire()) {
      try {
        commit(List.of(item));
      } finally {
        slots.release();
      }
      if (item.failure != null) {
        throw item.failure;
      }
      return item.result;
    }
    waiting.add(item);
    if (closed && waiting.remove(item)) {
      // close() drained the queue before this item was in it: no worker will take it.
      throw DatabaseException.unavailable("the controller is stopping; nothing was written");
    }
    try {
      return item.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      // The batch may still commit the work: the caller learns only that it was not told.
      throw DatabaseException.unavailable("interrupted while waiting for the group commit; the"
          + " work may or may not have been committed");
    }
  }

  /** How many batches of each size have committed or failed, and the callers in them. */
  public BatchSizes sizes() {
    return sizes;
  }

  /**
   * One worker's loop. Only one worker collects at a time: it takes the first caller waiting,
   * then waits for a batch slot, and only then takes everyone who queued meanwhile, so callers
   * that arrive while every slot is busy end up in one batch, not one each.
   */
  private void work() {
    List<Item<?>> batch = new ArrayList<>(maxBatch);
    while (!closed) {
      try {
        if (!collect(batch)) {
          continue;
        }
        try {
          commit(batch);
        } finally {
          slots.release();
          batch.clear();
        }
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /** Fills the batch holding a slot; false (and no slot held) when nobody waited. */
  private boolean collect(List<Item<?>> batch) throws InterruptedException {
    collecting.lockInterruptibly();
    try {
      Item<?> first = waiting.poll(100, TimeUnit.MILLISECONDS);
      if (first == null) {
        return false;
      }
      batch.add(first);
      slots.acquire();
      waiting.drainTo(batch, maxBatch - 1);
      if (batch.size() > 1 && lingerNanos > 0) {
        long until = System.nanoTime() + lingerNanos;
        while (batch.size() < maxBatch) {
          Item<?> more = waiting.poll(until - System.nanoTime(), TimeUnit.NANOSECONDS);
          if (more == null) {
            break;
          }
          batch.add(more);
          waiting.drainTo(batch, maxBatch - batch.size());
        }
      }
      return true;
    } catch (InterruptedException e) {
      // Taken but not run: fail them rather than leave their callers waiting.
      DatabaseException stopping = DatabaseException.unavailable("the controller stopped before"
          + " this was committed");
      batch.forEach(item -> {
        item.failure = stopping;
        item.done.countDown();
      });
      batch.clear();
      throw e;
    } finally {
      collecting.unlock();
    }
  }

  private void commit(List<Item<?>> batch) {
    RuntimeException batchFailure = null;
    try {
      db.inTransaction(tx -> {
        for (Item<?> item : batch) {
          item.runIn(tx);
          if (tx.undone()) {
            // A programming error: the batch's other works would be undone with it.
            throw new IllegalStateException("a group-committed work asked to undo the batch");
          }
        }
        boundaries.reached("written");
        return null;
      });
      boundaries.reached("committed");
    } catch (RuntimeException e) {
      // The database's failure, or the fence's refusal: nothing of the batch was committed.
      batchFailure = e;
      LOG.log(Level.WARNING, "a batch of {0} was not committed: {1}",
          new Object[] {batch.size(), e.getMessage()});
    }
    sizes.record(batch.size(), batchFailure == null);
    for (Item<?> item : batch) {
      if (batchFailure != null) {
        item.result = null;
        item.failure = batchFailure;
      }
      item.done.countDown();
    }
  }

  /** Stops taking work; batches under way finish, callers still waiting fail. */
  @Override
  public void close() {
    closed = true;
    for (Thread t : workers) {
      try {
        t.join(TimeUnit.SECONDS.toMillis(5));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    DatabaseException stopping =
        DatabaseException.unavailable("the controller stopped before this was committed");
    Item<?> left;
    while ((left = waiting.poll()) != null) {
      left.failure = stopping;
      left.done.countDown();
    }
  }
}
