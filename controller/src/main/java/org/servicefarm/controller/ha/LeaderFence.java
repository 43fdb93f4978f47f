package org.servicefarm.controller.ha;

import java.sql.SQLException;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.LeadershipRepository;

/**
 * The fencing token on the leader's writes: each leader-only transaction first takes the fence's
 * advisory lock shared and reads the leadership epoch (the function leader_fence_epoch, schema
 * V7), and goes on only if the epoch is still this controller's. A new leader bumps the epoch
 * holding the lock exclusively, so the bump waits until the old leader's transactions in flight
 * end, and every later one of the old leader's transactions sees the new epoch and is refused.
 * (An advisory lock rather than a row lock FOR SHARE: those write WAL on every transaction.)
 */
public final class LeaderFence implements Database.Fence {
  /** SQLSTATE of a refused write; not a serialization failure, so it is never retried. */
  public static final String FENCED = "SF001";

  /** The advisory lock's key, as leader_fence_epoch (migration V7) names it. */
  static final String LOCK_KEY = "servicefarm.leader-fence";

  private final Leadership leadership;

  public LeaderFence(Leadership leadership) {
    this.leadership = leadership;
  }

  @Override
  public void check(Database.Tx tx) throws SQLException {
    long mine = leadership.epoch();
    long current = LeadershipRepository.fenceEpoch(tx);
    if (mine == 0 || mine != current) {
      throw new SQLException("controller " + leadership.self() + " is not the leader (its epoch "
          + mine + ", the farm's " + current + "); only the leader drives VMs and hosts", FENCED);
    }
  }
}
