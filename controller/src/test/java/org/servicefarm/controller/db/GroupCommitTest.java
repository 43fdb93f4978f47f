package org.servicefarm.controller.db;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.db.embedded.EmbeddedPostgresForTests;

/** Group commit on a real database: batches, durability before the answer, failures. */
class GroupCommitTest {
  private Database db;
  private GroupCommit commits;
  private final List<String> boundaries = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() {
    db = new Database(EmbeddedPostgresForTests.freshDatabase(), EmbeddedPostgresForTests.user(),
        "", 8);
    db.update("CREATE TABLE rows_written (n int PRIMARY KEY)");
    commits = new GroupCommit(db, "test", 2, 16, Duration.ofMillis(1), boundaries::add);
  }

  @AfterEach
  void stop() {
    commits.close();
    db.close();
  }

  private long count() {
    return db.queryOne("SELECT count(*) FROM rows_written", rs -> rs.getLong(1)).orElseThrow();
  }

  @Test
  void aTransactionUndoneOnReturnKeepsNothingYetAnswersItsValue() {
    String answer = db.inTransaction(tx -> {
      tx.update("INSERT INTO rows_written VALUES (1)");
      tx.undoOnReturn();
      return "decided otherwise";
    });
    assertEquals("decided otherwise", answer);
    assertEquals(0, count());
  }

  @Test
  void aGroupCommittedWorkCannotUndoTheBatchItShares() {
    commits.run(tx -> tx.update("INSERT INTO rows_written VALUES (1)"));
    assertThrows(IllegalStateException.class, () -> commits.run(tx -> {
      tx.undoOnReturn();
      return null;
    }));
    assertEquals(1, count(), "the earlier batch stays committed");
  }

  @Test
  void concurrentCallersShareCommitsAndEachRowIsDurableWhenItsCallerReturns() throws Exception {
    int callers = 200;
    ExecutorService pool = Executors.newFixedThreadPool(32);
    List<Future<Boolean>> answers = new ArrayList<>();
    for (int i = 0; i < callers; i++) {
      int n = i;
      answers.add(pool.submit(() -> {
        commits.run(tx -> tx.update("INSERT INTO rows_written VALUES (?)", n));
        // Read on another connection: committed, not merely written in the batch's transaction.
        return db.queryOne("SELECT 1 FROM rows_written WHERE n = ?", rs -> true, n).isPresent();
      }));
    }
    for (Future<Boolean> answer : answers) {
      assertTrue(answer.get(60, TimeUnit.SECONDS), "a caller answered before its row committed");
    }
    pool.shutdown();
    assertEquals(callers, count());
    BatchSizes.Snapshot sizes = commits.sizes().snapshot();
    assertEquals(callers, sizes.callers());
    assertEquals(0, sizes.failed());
    assertTrue(sizes.committed() < callers,
        "no two callers shared a commit: " + sizes.distribution());
  }

  @Test
  void aRefusedWorkFailsOnlyItsCallerAndTheOthersCommit() throws Exception {
    CountDownLatch blocker = holdTheWorkers();
    ExecutorService pool = Executors.newFixedThreadPool(3);
    Future<?> first = pool.submit(() -> commits.run(tx -> tx.update(
        "INSERT INTO rows_written VALUES (1)")));
    Future<?> refused = pool.submit(() -> commits.run(tx -> {
      throw new IllegalStateException("refused: key 7 is another caller's");
    }));
    Future<?> third = pool.submit(() -> commits.run(tx -> tx.update(
        "INSERT INTO rows_written VALUES (3)")));
    Thread.sleep(200); // all three wait behind the held workers, so they share a batch
    blocker.countDown();
    first.get(30, TimeUnit.SECONDS);
    third.get(30, TimeUnit.SECONDS);
    Exception e = assertThrows(Exception.class, () -> refused.get(30, TimeUnit.SECONDS));
    assertEquals("refused: key 7 is another caller's", e.getCause().getMessage());
    assertEquals(2, count());
    pool.shutdown();
  }

  @Test
  void aDatabaseFailureFailsEveryCallerOfTheBatchWithTheReasonAndWritesNothing()
      throws Exception {
    CountDownLatch blocker = holdTheWorkers();
    ExecutorService pool = Executors.newFixedThreadPool(2);
    Future<?> innocent = pool.submit(() -> commits.run(tx -> tx.update(
        "INSERT INTO rows_written VALUES (10)")));
    Future<?> failing = pool.submit(() -> commits.run(tx -> tx.update(
        "INSERT INTO no_such_table VALUES (1)")));
    Thread.sleep(200);
    blocker.countDown();
    for (Future<?> caller : List.of(innocent, failing)) {
      Exception e = assertThrows(Exception.class, () -> caller.get(30, TimeUnit.SECONDS));
      assertTrue(e.getCause() instanceof DatabaseException, e.toString());
      assertTrue(e.getCause().getMessage().contains("no_such_table"), e.getCause().getMessage());
    }
    assertEquals(0, count(), "a failed batch committed a row");
    assertEquals(1, commits.sizes().snapshot().failed());
    pool.shutdown();
  }

  @Test
  void theBoundariesAreReachedWrittenThenCommitted() {
    commits.run(tx -> tx.update("INSERT INTO rows_written VALUES (1)"));
    assertEquals(List.of("written", "committed"), boundaries);
  }

  /**
   * Occupies both workers with works that wait for the latch, so callers submitted meanwhile
   * queue up and form one batch.
   */
  private CountDownLatch holdTheWorkers() throws InterruptedException {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch held = new CountDownLatch(2);
    ExecutorService holders = Executors.newFixedThreadPool(2);
    for (int i = 0; i < 2; i++) {
      holders.submit(() -> commits.run(tx -> {
        held.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          throw new IllegalStateException("interrupted while holding a worker", e);
        }
        return null;
      }));
      // One at a time, so each holder is alone in its batch and takes one worker.
      Thread.sleep(50);
    }
    assertTrue(held.await(10, TimeUnit.SECONDS), "the workers were not held");
    holders.shutdown();
    return release;
  }
}
