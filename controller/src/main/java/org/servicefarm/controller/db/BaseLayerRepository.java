package org.servicefarm.controller.db;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Optional;

/**
 * The base layers the farm has composed ({@code base_layers}), and the lock that makes one
 * controller compose a base while the others wait for it.
 */
public final class BaseLayerRepository {

  /** A composed base: its blobs in the store. */
  public record BaseLayerRow(String key, String diskSha256, long diskSize, String treeSha256,
      long treeSize, String kernelSha256, String initrdSha256) {}

  /** The build lock of one base, held on a connection of its own until closed. */
  public interface BuildLock extends AutoCloseable {
    @Override
    void close();
  }

  public Optional<BaseLayerRow> find(Database.Tx tx, String key) throws SQLException {
    return tx.queryOne("SELECT base_key, disk_sha256, disk_size, tree_sha256, tree_size,"
            + " kernel_sha256, initrd_sha256 FROM base_layers WHERE base_key = ?",
        rs -> new BaseLayerRow(rs.getString("base_key"), rs.getString("disk_sha256"),
            rs.getLong("disk_size"), rs.getString("tree_sha256"), rs.getLong("tree_size"),
            rs.getString("kernel_sha256"), rs.getString("initrd_sha256")),
        key);
  }

  /** Records a base; a base recorded already under the key stays as it is. */
  public void record(Database.Tx tx, BaseLayerRow row) throws SQLException {
    tx.update("INSERT INTO base_layers (base_key, disk_sha256, disk_size, tree_sha256, tree_size,"
            + " kernel_sha256, initrd_sha256) VALUES (?, ?, ?, ?, ?, ?, ?)"
            + " ON CONFLICT (base_key) DO NOTHING",
        row.key(), row.diskSha256(), row.diskSize(), row.treeSha256(), row.treeSize(),
        row.kernelSha256(), row.initrdSha256());
  }

  /**
   * Takes the session advisory lock of the base's key, polling every {@code poll} until it is
   * free (another controller composing the same base holds it) or {@code patience} has passed.
   * The lock lives on a pooled connection held until close; a controller that dies loses its
   * session and with it the lock, so a dead builder never blocks the others.
   *
   * @return empty when the lock stayed taken for all of {@code patience}
   */
  public Optional<BuildLock> lockBuild(Database db, String key, Duration poll, Duration patience)
      throws InterruptedException {
    long deadline = System.nanoTime() + patience.toNanos();
    Connection c;
    try {
      c = db.dataSource().getConnection();
      c.setAutoCommit(true);
    } catch (SQLException e) {
      throw DatabaseException.from(e);
    }
    try {
      while (true) {
        if (tryLock(c, "SELECT pg_try_advisory_lock(hashtextextended(?, 0))", key)) {
          return Optional.of(() -> {
            try (c) {
              tryLock(c, "SELECT pg_advisory_unlock(hashtextextended(?, 0))", key);
            } catch (SQLException e) {
              // Closing the connection ends the session, which releases its locks anyway.
            }
          });
        }
        if (System.nanoTime() > deadline) {
          c.close();
          return Optional.empty();
        }
        Thread.sleep(poll.toMillis());
      }
    } catch (SQLException e) {
      closeQuietly(c);
      throw DatabaseException.from(e);
    } catch (InterruptedException | RuntimeException e) {
      closeQuietly(c);
      throw e;
    }
  }

  private static boolean tryLock(Connection c, String sql, String key) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, "base-layer:" + key);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() && rs.getBoolean(1);
      }
    }
  }

  private static void closeQuietly(Connection c) {
    try {
      c.close();
    } catch (SQLException e) {
      // Already failing; the pool replaces a broken connection.
    }
  }
}
