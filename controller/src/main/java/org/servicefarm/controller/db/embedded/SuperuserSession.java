package org.servicefarm.controller.db.embedded;

import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.logging.Logger;
import org.postgresql.PGConnection;

/**
 * Connections as the superuser over the embedded server's Unix socket, and the one-time setup
 * done through them. The socket admits only this JVM's operating-system account (peer
 * credentials), so no password is sent.
 */
final class SuperuserSession {

    private static final Logger LOG = Logger.getLogger(SuperuserSession.class.getName());
    private static final String SOCKET_FACTORY = "org.newsclub.net.unix.AFUNIXSocketFactory$FactoryArg";

    private SuperuserSession() {}

    static String jdbcUrl(Path socketFile, String database) {
        // The host is ignored with a socket factory; sslmode off because a socket needs no TLS.
        return "jdbc:postgresql://localhost/" + database + "?sslmode=disable&socketFactory="
                + SOCKET_FACTORY + "&socketFactoryArg=" + socketFile;
    }

    static Connection open(Path socketFile, String database) throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", EmbeddedPostgres.USER);
        properties.setProperty("connectTimeout", "5");
        properties.setProperty("ApplicationName", "servicefarm-embedded-postgres");
        return DriverManager.getConnection(jdbcUrl(socketFile, database), properties);
    }

    static void createDatabaseIfMissing(Path socketFile, String database) throws IOException {
        try (Connection connection = open(socketFile, "postgres");
                PreparedStatement exists =
                        connection.prepareStatement("select 1 from pg_database where datname = ?")) {
            exists.setString(1, database);
            try (ResultSet row = exists.executeQuery()) {
                if (row.next()) {
                    return;
                }
            }
            try (Statement create = connection.createStatement()) {
                // A fixed identifier of ours (CREATE DATABASE takes no parameters).
                create.execute("create database " + database);
            }
            LOG.info(() -> "created database " + database);
        } catch (SQLException e) {
            throw new IOException("could not create database " + database + " on " + socketFile, e);
        }
    }

    /**
     * Sets the superuser's password (for TCP connections) at every start, so a data directory
     * made before passwords existed gets one. The driver hashes it (SCRAM) before sending, so the
     * password itself never reaches the server or its log.
     */
    static void setPassword(Path socketFile, String password) throws IOException {
        try (Connection connection = open(socketFile, "postgres")) {
            // A server that waits for a synchronous standby would wait here for ever when the
            // standby is not up yet: the password needs only this server's own commit.
            try (var statement = connection.createStatement()) {
                try (var recovery = statement.executeQuery("SELECT pg_is_in_recovery()")) {
                    if (recovery.next() && recovery.getBoolean(1)) {
                        return; // a standby takes no writes: its password is its primary's
                    }
                }
                statement.execute("SET synchronous_commit = local");
            }
            connection.unwrap(PGConnection.class).alterUserPassword(
                    EmbeddedPostgres.USER, password.toCharArray(), "scram-sha-256");
        } catch (SQLException e) {
            throw new IOException("could not set the password of " + EmbeddedPostgres.USER
                    + " on " + socketFile, e);
        }
    }
}
