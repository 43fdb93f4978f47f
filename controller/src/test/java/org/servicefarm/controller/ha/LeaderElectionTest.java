package org.servicefarm.controller.ha;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.FencedDatabase;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgresForTests;

/** Two controllers' elections on one real database, as two processes would run them. */
class LeaderElectionTest {
  /** A write every fenced transaction may make: it changes nothing. */
  private static final String TOUCH =
      "UPDATE controller_leadership SET since = since WHERE id = 1";

  private Database dbA;
  private Database dbB;
  private LeaderElection a;
  private LeaderElection b;
  private final List<String> changesA = new CopyOnWriteArrayList<>();
  private final List<String> changesB = new CopyOnWriteArrayList<>();

  @BeforeEach
  void twoControllersOnOneDatabase() {
    String url = EmbeddedPostgresForTests.freshDatabase();
    dbA = new Database(url, EmbeddedPostgresForTests.user(), "", 4);
    dbB = new Database(url, EmbeddedPostgresForTests.user(), "", 4);
    Migrations.migrate(dbA.dataSource());
    a = new LeaderElection(dbA, "controller-a:50051");
    b = new LeaderElection(dbB, "controller-b:50051");
    a.start(recording(changesA));
    b.start(recording(changesB));
  }

  @AfterEach
  void stop() {
    a.close();
    b.close();
    dbA.close();
    dbB.close();
  }

  @Test
  void theFirstLeadsAndTheOtherFollowsKnowingWhereTheLeaderIs() {
    assertTrue(a.isLeader());
    assertEquals(1, a.epoch());
    assertFalse(b.isLeader());
    assertEquals(0, b.epoch());
    assertEquals(List.of("elected 1"), changesA);
    assertEquals(List.of(), changesB);
    assertEquals(Optional.of(new Leadership.Leader(1, a.self(), "controller-a:50051")), b.leader());
  }

  @Test
  void whenTheLeaderStopsTheOtherTakesOverWithTheNextEpoch() throws InterruptedException {
    a.close();
    awaitLeader(b);
    assertEquals(2, b.epoch());
    assertEquals(List.of("elected 1", "demoted controller stopping"), changesA);
    assertEquals(List.of("elected 2"), changesB);
  }

  @Test
  void aLeaderWhoseSessionDiesStepsDownAndAnotherTakesOver() throws InterruptedException {
    terminateLeaderSession();
    awaitLeader(b);
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (a.isLeader() && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertFalse(a.isLeader(), "the old leader noticed it lost its session");
    assertTrue(changesA.get(changesA.size() - 1).startsWith("demoted"), changesA.toString());
  }

  @Test
  void anOldLeaderThatHasNotNoticedCannotWriteOnceAnotherLeads() throws InterruptedException {
    // The old leader as a paused process sees itself: it still believes it holds epoch 1.
    Leadership paused = new Leadership() {
      @Override
      public boolean isLeader() {
        return true;
      }

      @Override
      public long epoch() {
        return 1;
      }

      @Override
      public Optional<Leader> leader() {
        return Optional.empty();
      }

      @Override
      public String self() {
        return "paused-controller";
      }
    };
    FencedDatabase stale = dbA.fenced(new LeaderFence(paused));
    assertEquals(Integer.valueOf(1), stale.inTransaction(tx -> tx.update(TOUCH)),
        "while epoch 1 leads, its writes pass the fence");
    terminateLeaderSession();
    awaitLeader(b);
    DatabaseException refused = assertThrows(DatabaseException.class,
        () -> stale.inTransaction(tx -> tx.update(TOUCH)));
    assertEquals(LeaderFence.FENCED, refused.sqlState());
    assertTrue(refused.getMessage().contains("its epoch 1, the farm's 2"), refused.getMessage());
    FencedDatabase current = dbB.fenced(new LeaderFence(b));
    assertEquals(Integer.valueOf(1), current.inTransaction(tx -> tx.update(TOUCH)),
        "the new leader's writes pass");
  }

  @Test
  void aNewLeaderTakesOverOnlyOnceTheOldLeadersWriteInFlightHasEnded() throws Exception {
    FencedDatabase fenced = dbA.fenced(new LeaderFence(a));
    java.util.concurrent.CountDownLatch passedFence = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch finish = new java.util.concurrent.CountDownLatch(1);
    Thread writer = new Thread(() -> fenced.inTransaction(tx -> {
      passedFence.countDown();
      try {
        finish.await();
      } catch (InterruptedException e) {
        throw new IllegalStateException("the writer was interrupted", e);
      }
      return tx.update("UPDATE controller_leadership SET since = since WHERE id = 1");
    }));
    writer.start();
    assertTrue(passedFence.await(10, java.util.concurrent.TimeUnit.SECONDS));
    terminateLeaderSession();
    // b wins the election lock at its next try (every second) but its bump must wait.
    Thread.sleep(2500);
    assertFalse(b.isLeader(), "the epoch bump waited for the old leader's transaction");
    finish.countDown();
    writer.join(10_000);
    awaitLeader(b);
    assertEquals(2, b.epoch());
  }

  // The leader's connection dies as it would when its process is frozen or cut off.
  private void terminateLeaderSession() {
    int ended = dbB.queryOne("SELECT count(pg_terminate_backend(pid))::int FROM pg_locks"
        + " WHERE locktype = 'advisory' AND granted AND mode = 'ExclusiveLock'"
        + " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", rs -> rs.getInt(1)).orElse(0);
    assertEquals(1, ended, "one session held the leadership lock");
  }

  private static void awaitLeader(LeaderElection election) throws InterruptedException {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!election.isLeader()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(election.self() + " did not take over within 10 s");
      }
      Thread.sleep(100);
    }
  }

  private static LeaderElection.Listener recording(List<String> changes) {
    return new LeaderElection.Listener() {
      @Override
      public void elected(long epoch) {
        changes.add("elected " + epoch);
      }

      @Override
      public void demoted(String why) {
        changes.add("demoted " + why);
      }
    };
  }
}
