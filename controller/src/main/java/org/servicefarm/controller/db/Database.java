package org.servicefarm.controller.db;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * The one way the controller talks to PostgreSQL: a pool, short transactions, parameterised
 * statements. Repositories hand it SQL written out in full; nothing here builds SQL from values.
 *
 * <p>Isolation: READ COMMITTED by default. Paths that read, decide and write take row locks
 * ({@code SELECT ... FOR UPDATE}) or advisory locks, or guard writes with
 * {@code UPDATE ... WHERE state = expected}, so no update is lost; docs/architecture.md lists them.
 */
public final class Database implements AutoCloseable {

  /** Turns the current row of a result set into a value. */
  @FunctionalInterface
  public interface RowMapper<T> {
    T map(ResultSet rs) throws SQLException;
  }

  /** Work done inside one transaction. */
  @FunctionalInterface
  public interface TransactionWork<T> {
    T run(Tx tx) throws SQLException;
  }

  /** A check every transaction of a {@link FencedDatabase} runs first; it throws to refuse. */
  @FunctionalInterface
  public interface Fence {
    void check(Tx tx) throws SQLException;
  }

  private static final int SERIALIZATION_RETRIES = 5;

  private final HikariDataSource pool;

  public Database(String jdbcUrl, String user, String password, int maxPoolSize) {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(jdbcUrl);
    config.setUsername(user);
    config.setPassword(password);
    config.setMaximumPoolSize(maxPoolSize);
    // Every connection starts READ COMMITTED and Hikari puts a changed level back on return, so a
    // READ COMMITTED transaction need not set it: pgjdbc sends each setTransactionIsolation to
    // the server as a statement (and a transaction) of its own.
    config.setTransactionIsolation("TRANSACTION_READ_COMMITTED");
    config.setPoolName("servicefarm");
    // Fail fast when the database is gone, so callers answer UNAVAILABLE instead of hanging.
    config.setConnectionTimeout(5_000);
    config.setValidationTimeout(2_000);
    config.setInitializationFailTimeout(-1);
    // A statement here takes milliseconds; one that hears nothing for 10 s is talking to a
    // database that vanished without closing the socket (host down, network cut), not working.
    config.addDataSourceProperty("socketTimeout", "10");
    config.addDataSourceProperty("connectTimeout", "5");
    config.addDataSourceProperty("ApplicationName", "servicefarm-controller");
    this.pool = new HikariDataSource(config);
  }

  /**
   * The same pool, with every transaction running the fence's check first: for work only the
   * leading controller may do.
   */
  public FencedDatabase fenced(Fence check) {
    return new FencedDatabase(this, check);
  }

  public DataSource dataSource() {
    return pool;
  }

  /** Runs work in a READ COMMITTED transaction. */
  public <T> T inTransaction(TransactionWork<T> work) {
    return inTransaction(Connection.TRANSACTION_READ_COMMITTED, work);
  }

  /**
   * Runs work in a transaction of the given isolation, retrying a bounded number of times when
   * PostgreSQL reports a serialization failure (40001) or deadlock (40P01).
   */
  public <T> T inTransaction(int isolation, TransactionWork<T> work) {
    return inTransaction(isolation, null, work);
  }

  /** As {@link #inTransaction(int, TransactionWork)}, running {@code fence} (when not null) first. */
  <T> T inTransaction(int isolation, Fence fence, TransactionWork<T> work) {
    for (int attempt = 1; ; attempt++) {
      try (Connection c = pool.getConnection()) {
        c.setAutoCommit(false);
        if (isolation != Connection.TRANSACTION_READ_COMMITTED) {
          c.setTransactionIsolation(isolation);
        }
        try {
          Tx tx = new Tx(c);
          if (fence != null) {
            fence.check(tx);
          }
          T result = work.run(tx);
          if (tx.undone) {
            c.rollback();
          } else {
            c.commit();
          }
          return result;
        } catch (SQLException | RuntimeException e) {
          rollbackQuietly(c, e);
          throw e;
        }
      } catch (SQLException e) {
        if (isRetryable(e) && attempt < SERIALIZATION_RETRIES) {
          continue;
        }
        throw DatabaseException.from(e);
      }
    }
  }

  /** A single statement outside an explicit transaction. */
  public <T> List<T> query(String sql, RowMapper<T> mapper, Object... args) {
    return inTransaction(tx -> tx.query(sql, mapper, args));
  }

  public <T> Optional<T> queryOne(String sql, RowMapper<T> mapper, Object... args) {
    return inTransaction(tx -> tx.queryOne(sql, mapper, args));
  }

  public int update(String sql, Object... args) {
    return inTransaction(tx -> tx.update(sql, args));
  }

  /**
   * Runs a trivial statement on the connection, as a health check: throws when the database does
   * not answer within {@code timeoutSeconds}.
   */
  public static void probe(Connection connection, int timeoutSeconds) throws SQLException {
    try (java.sql.Statement statement = connection.createStatement()) {
      statement.setQueryTimeout(timeoutSeconds);
      statement.execute("SELECT 1");
    }
  }

  private static boolean isRetryable(SQLException e) {
    String state = e.getSQLState();
    return "40001".equals(state) || "40P01".equals(state);
  }

  private static void rollbackQuietly(Connection c, Exception cause) {
    try {
      c.rollback();
    } catch (SQLException rollbackFailure) {
      // The original failure is what the caller needs; keep the rollback's as a suppressed cause.
      cause.addSuppressed(rollbackFailure);
    }
  }

  @Override
  public void close() {
    pool.close();
  }

  /** A connection inside a transaction, with the statement helpers repositories use. */
  public static final class Tx {
    private final Connection connection;
    private boolean undone;

    Tx(Connection connection) {
      this.connection = connection;
    }

    public <T> List<T> query(String sql, RowMapper<T> mapper, Object... args) throws SQLException {
      try (PreparedStatement ps = prepare(sql, args);
          ResultSet rs = ps.executeQuery()) {
        List<T> rows = new ArrayList<>();
        while (rs.next()) {
          rows.add(mapper.map(rs));
        }
        return rows;
      }
    }

    public <T> Optional<T> queryOne(String sql, RowMapper<T> mapper, Object... args)
        throws SQLException {
      List<T> rows = query(sql, mapper, args);
      if (rows.size() > 1) {
        throw new SQLException("expected at most one row, got " + rows.size() + " for: " + sql);
      }
      return rows.isEmpty() ? Optional.empty() : Optional.of(rows.get(0));
    }

    public int update(String sql, Object... args) throws SQLException {
      try (PreparedStatement ps = prepare(sql, args)) {
        return ps.executeUpdate();
      }
    }

    /**
     * Ends the transaction by rolling back what it wrote, while the work still returns its value
     * (a decision that found, after writing, that it must not stand). Not for a group-committed
     * work, whose transaction is shared: {@link GroupCommit} refuses it.
     */
    public void undoOnReturn() {
      undone = true;
    }

    /** Whether {@link #undoOnReturn} was called. */
    boolean undone() {
      return undone;
    }

    /** Serialises callers that pass the same key until this transaction ends. */
    public void advisoryLock(String key) throws SQLException {
      query("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", rs -> 0, key);
    }

    public Connection connection() {
      return connection;
    }

    private PreparedStatement prepare(String sql, Object... args) throws SQLException {
      PreparedStatement ps = connection.prepareStatement(sql);
      for (int i = 0; i < args.length; i++) {
        Object arg = args[i];
        if (arg instanceof String[] array) {
          ps.setArray(i + 1, connection.createArrayOf("text", array));
        } else if (arg instanceof java.time.Instant instant) {
          ps.setObject(i + 1, java.time.OffsetDateTime.ofInstant(instant, java.time.ZoneOffset.UTC));
        } else {
          ps.setObject(i + 1, arg);
        }
      }
      return ps;
    }
  }
}
