package org.servicefarm.controller.db;

import java.sql.SQLException;

/**
 * A database failure, classified so the API can answer the right code: the database being
 * unreachable is UNAVAILABLE for the caller, a violated constraint is a conflict, anything else
 * is a defect.
 */
public class DatabaseException extends RuntimeException {

  public enum Kind {
    UNAVAILABLE,
    CONSTRAINT,
    /**
     * A limit the farm's schema sets was reached (SQLSTATE 53400, raised by the schema's own
     * functions, e.g. every gateway port taken); {@link #limit()} is the schema's message.
     */
    LIMIT,
    OTHER
  }

  private final Kind kind;
  private final String sqlState;

  private DatabaseException(Kind kind, String sqlState, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.sqlState = sqlState;
  }

  public static DatabaseException from(SQLException e) {
    String state = e.getSQLState() == null ? "" : e.getSQLState();
    Kind kind;
    if (state.startsWith("08") || state.startsWith("57P") || state.equals("53300")) {
      kind = Kind.UNAVAILABLE; // connection failures, admin shutdown, too many connections
    } else if (state.startsWith("23")) {
      kind = Kind.CONSTRAINT;
    } else if (state.equals("53400")) {
      kind = Kind.LIMIT;
    } else if (e instanceof java.sql.SQLTransientConnectionException) {
      kind = Kind.UNAVAILABLE; // the pool timed out waiting for a connection
    } else {
      kind = Kind.OTHER;
    }
    return new DatabaseException(kind, state, "database: " + e.getMessage(), e);
  }

  /** The database could not be used for this work (the controller stopping, say); as 08xxx. */
  public static DatabaseException unavailable(String message) {
    return new DatabaseException(Kind.UNAVAILABLE, "", message, null);
  }

  public Kind kind() {
    return kind;
  }

  public String sqlState() {
    return sqlState;
  }

  /**
   * For {@link Kind#LIMIT}: the message the schema raised, which names the limit and what
   * reached it (written by the farm, so a caller may read it); empty otherwise.
   */
  public String limit() {
    if (kind != Kind.LIMIT) {
      return "";
    }
    if (getCause() instanceof org.postgresql.util.PSQLException p
        && p.getServerErrorMessage() != null && p.getServerErrorMessage().getMessage() != null) {
      return p.getServerErrorMessage().getMessage();
    }
    return getMessage();
  }
}
