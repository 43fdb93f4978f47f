package org.servicefarm.controller.db;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;

/**
 * The statements of leader election and of the fence on the leader's writes (ha.LeaderElection,
 * ha.LeaderFence): the session advisory lock that makes a controller the leader, held on a
 * connection of its own, and the {@code controller_leadership} row with the epoch (schema V7).
 */
public final class LeadershipRepository {

  /** The row of {@code controller_leadership}: the leading controller, as of its last election. */
  public record LeaderRow(long epoch, String holder, String address) {}

  private LeadershipRepository() {}

  /**
   * Makes a connection fit to hold the leader's lock: PostgreSQL must notice a vanished leader's
   * session (keepalives) to free the lock for another.
   */
  public static void prepareLockSession(Connection session) throws SQLException {
    session.setAutoCommit(true);
    try (Statement s = session.createStatement()) {
      s.execute("SET tcp_keepalives_idle = 5");
      s.execute("SET tcp_keepalives_interval = 2");
      s.execute("SET tcp_keepalives_count = 3");
    }
  }

  /** Takes the session advisory lock of {@code key} if it is free; true when this session holds it. */
  public static boolean tryLock(Connection session, String key) throws SQLException {
    try (PreparedStatement ps = session.prepareStatement(
        "SELECT pg_try_advisory_lock(hashtextextended(?, 0))")) {
      ps.setString(1, key);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() && rs.getBoolean(1);
      }
    }
  }

  /**
   * Bumps the epoch for a new leader and records it. The fence's lock, taken exclusively, is held
   * until this statement commits: the bump waits for the old leader's fenced transactions in
   * flight, and later ones see the new epoch.
   */
  public static long bumpEpoch(Connection session, String fenceKey, String holder, String address)
      throws SQLException {
    try (PreparedStatement ps = session.prepareStatement("WITH fence AS MATERIALIZED"
        + " (SELECT pg_advisory_xact_lock(hashtextextended(?, 0)))"
        + " UPDATE controller_leadership SET epoch = epoch + 1, holder = ?, address = ?,"
        + " since = now() FROM fence WHERE id = 1 RETURNING epoch")) {
      ps.setString(1, fenceKey);
      ps.setString(2, holder);
      ps.setString(3, address);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          throw new SQLException("controller_leadership has no row 1; is the schema at V7?");
        }
        return rs.getLong(1);
      }
    }
  }

  /** The leader as the table records it. */
  public static Optional<LeaderRow> leader(Database db) {
    return db.queryOne("SELECT epoch, holder, address FROM controller_leadership WHERE id = 1",
        rs -> new LeaderRow(rs.getLong(1), rs.getString(2), rs.getString(3)));
  }

  /**
   * The farm's leadership epoch, read holding the fence's advisory lock shared until the
   * transaction ends (the function leader_fence_epoch, schema V7).
   */
  public static long fenceEpoch(Database.Tx tx) throws SQLException {
    return tx.queryOne("SELECT leader_fence_epoch()", rs -> rs.getLong(1)).orElse(0L);
  }
}
