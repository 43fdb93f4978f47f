package org.servicefarm.controller.ha;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.LeadershipRepository;

/**
 * Leadership among the controllers sharing one database, by PostgreSQL session advisory lock.
 * Every second a follower tries the lock on a connection it keeps for the purpose; on winning it
 * bumps the epoch in {@code controller_leadership} (the fencing token) and its listener starts the
 * leader's duties. A leader checks its connection every second and steps down when it is gone.
 *
 * <p>A leader that dies loses the lock with its connection, so another takes over within about a
 * second. A leader cut off from the database is dropped by PostgreSQL after the TCP keepalives set
 * on the lock's session fail (about 11 s); until then nobody else leads, which is safe.
 */
public final class LeaderElection implements Leadership, AutoCloseable {
  private static final Logger LOG = Logger.getLogger(LeaderElection.class.getName());
  private static final String LOCK_KEY = "servicefarm.leader";
  private static final int CHECK_MILLIS = 1000;

  /** What starts and stops with leadership. Called on the election's own thread. */
  public interface Listener {
    void elected(long epoch);

    void demoted(String why);
  }

  private final DataSource pool;
  private final Database db;
  private final String address;
  private final String self;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "leader-election");
    t.setDaemon(true);
    return t;
  });
  private Listener listener = new Listener() {
    @Override
    public void elected(long epoch) {}

    @Override
    public void demoted(String why) {}
  };
  private Connection lockSession; // only the timer thread (or start, before it runs) touches it
  private volatile long epoch;
  private volatile Leader leader;

  /** @param address where clients and peers reach this controller, told to followers */
  public LeaderElection(Database db, String address) {
    this.db = db;
    this.pool = db.dataSource();
    this.address = address;
    this.self = hostName() + ":" + ProcessHandle.current().pid() + ":"
        + UUID.randomUUID().toString().substring(0, 8);
  }

  /** Tries once now (a lone controller leads before it serves), then every second. */
  public synchronized void start(Listener onChange) {
    this.listener = onChange;
    timer.execute(this::check);
    timer.scheduleWithFixedDelay(this::check, CHECK_MILLIS, CHECK_MILLIS, TimeUnit.MILLISECONDS);
    try {
      timer.submit(() -> { }).get(30, TimeUnit.SECONDS); // the first check has run
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      LOG.log(Level.WARNING, "the first leadership check did not finish: {0}", e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public boolean isLeader() {
    return epoch != 0;
  }

  @Override
  public long epoch() {
    return epoch;
  }

  @Override
  public Optional<Leader> leader() {
    return Optional.ofNullable(leader);
  }

  @Override
  public String self() {
    return self;
  }

  private void check() {
    try {
      if (epoch != 0) {
        if (!lockSession.isValid(2)) {
          stepDown("lost the database session that holds leadership");
        }
      } else if (tryLock()) {
        long won = bumpEpoch();
        epoch = won;
        LOG.info("controller " + self + " leads the farm (epoch " + won + ")");
        listener.elected(won);
      }
      readLeader();
    } catch (SQLException | DatabaseException e) {
      if (epoch != 0) {
        stepDown("the database failed: " + e.getMessage());
      } else {
        LOG.log(Level.FINE, "leadership check failed: {0}", e.getMessage());
      }
      closeLockSession();
    } catch (RuntimeException e) {
      // Must not escape: the check would never run again and leadership would never move.
      LOG.log(Level.SEVERE, "leadership check failed", e);
    }
  }

  private boolean tryLock() throws SQLException {
    if (lockSession == null || lockSession.isClosed()) {
      lockSession = pool.getConnection();
      LeadershipRepository.prepareLockSession(lockSession);
    }
    return LeadershipRepository.tryLock(lockSession, LOCK_KEY);
  }

  private long bumpEpoch() throws SQLException {
    return LeadershipRepository.bumpEpoch(lockSession, LeaderFence.LOCK_KEY, self, address);
  }

  private void readLeader() {
    leader = LeadershipRepository.leader(db)
        .map(row -> new Leader(row.epoch(), row.holder(), row.address())).orElse(null);
  }

  private void stepDown(String why) {
    long was = epoch;
    epoch = 0;
    LOG.warning("controller " + self + " no longer leads (epoch " + was + "): " + why);
    listener.demoted(why);
    closeLockSession();
  }

  private void closeLockSession() {
    if (lockSession == null) {
      return;
    }
    try {
      // Evicted, not returned: the pool would keep the session, and the lock with it, alive.
      if (pool instanceof com.zaxxer.hikari.HikariDataSource hikari) {
        hikari.evictConnection(lockSession);
      } else {
        lockSession.close();
      }
    } catch (SQLException e) {
      LOG.log(Level.FINE, "closing the leadership session: {0}", e.getMessage());
    }
    lockSession = null;
  }

  private static String hostName() {
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.net.UnknownHostException e) {
      return "controller";
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
    try {
      timer.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (epoch != 0) {
      epoch = 0;
      listener.demoted("controller stopping");
    }
    closeLockSession();
  }
}
