package org.servicefarm.controller.ha;

import java.sql.SQLException;
import org.servicefarm.controller.db.Database;

/**
 * The fencing token on the leader's writes: each leader-only transaction first reads the
 * leadership epoch with FOR SHARE and goes on only if it is still this controller's. The share
 * lock makes a new leader's epoch bump wait until the old leader's transactions in flight end, and
 * every later one of the old leader's transactions sees the new epoch and is refused.
 */
public final class LeaderFence implements Database.Fence {
  /** SQLSTATE of a refused write; not a serialization failure, so it is never retried. */
  public static final String FENCED = "SF001";

  private final Leadership leadership;

  public LeaderFence(Leadership leadership) {
    this.leadership = leadership;
  }

  @Override
  public void check(Database.Tx tx) throws SQLException {
    long mine = leadership.epoch();
    long current = tx.queryOne("SELECT epoch FROM controller_leadership WHERE id = 1 FOR SHARE",
        rs -> rs.getLong(1)).orElse(0L);
    if (mine == 0 || mine != current) {
      throw new SQLException("controller " + leadership.self() + " is not the leader (its epoch "
          + mine + ", the farm's " + current + "); only the leader drives VMs and hosts", FENCED);
    }
  }
}
