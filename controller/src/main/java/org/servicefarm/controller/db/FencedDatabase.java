package org.servicefarm.controller.db;

import java.sql.Connection;

/**
 * The database as the leading controller writes it: every transaction first runs the fence's
 * check (ha.LeaderFence: is this controller's leadership epoch still the farm's?) and is refused
 * when it fails, so a controller that stopped leading cannot drive VMs or hosts any more. A type
 * of its own, not a flag on {@link Database}, so the compiler shows which classes write only as
 * the leader: those that take a {@code FencedDatabase}.
 */
public final class FencedDatabase {
  private final Database db;
  private final Database.Fence fence;

  FencedDatabase(Database db, Database.Fence fence) {
    this.db = db;
    this.fence = fence;
  }

  /** Runs work in a READ COMMITTED transaction, after the fence's check. */
  public <T> T inTransaction(Database.TransactionWork<T> work) {
    return db.inTransaction(Connection.TRANSACTION_READ_COMMITTED, fence, work);
  }

  /** Runs work in a transaction of the given isolation, after the fence's check. */
  public <T> T inTransaction(int isolation, Database.TransactionWork<T> work) {
    return db.inTransaction(isolation, fence, work);
  }
}
