package org.servicefarm.controller.db.embedded;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One embedded PostgreSQL per test JVM, started on first use in a temporary directory and
 * stopped and deleted when the JVM exits. Integration tests call {@link #freshDatabase()} to get
 * an empty database of their own, which costs a CREATE DATABASE instead of a server start.
 */
public final class EmbeddedPostgresForTests {

    private static final AtomicInteger DATABASES_CREATED = new AtomicInteger();
    private static EmbeddedPostgres server;

    private EmbeddedPostgresForTests() {}

    /** The shared server, started on the first call. */
    public static synchronized EmbeddedPostgres server() {
        if (server == null) {
            try {
                Path dir = Files.createTempDirectory("servicefarm-test-pg");
                // When the tests run as root the server runs as another user, who must be able to
                // enter this directory; createTempDirectory makes it 0700.
                Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
                EmbeddedPostgres started = EmbeddedPostgres.start(dir.resolve("data"), 0);
                Runtime.getRuntime().addShutdownHook(
                        new Thread(() -> stopAndDelete(started, dir), "test-postgres-cleanup"));
                server = started;
            } catch (IOException e) {
                throw new UncheckedIOException("could not start the PostgreSQL server for tests", e);
            }
        }
        return server;
    }

    /** Creates a new, empty database with a name no other caller gets and returns its JDBC URL. */
    public static String freshDatabase() {
        EmbeddedPostgres postgres = server();
        String name = "test_" + ProcessHandle.current().pid() + "_" + DATABASES_CREATED.incrementAndGet();
        try (Connection connection = postgres.connect("postgres");
                Statement statement = connection.createStatement()) {
            statement.execute("create database " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("could not create test database " + name, e);
        }
        return postgres.jdbcUrl(name);
    }

    /** The user for {@link #freshDatabase()} URLs; no password is needed. */
    public static String user() {
        return EmbeddedPostgres.USER;
    }

    private static void stopAndDelete(EmbeddedPostgres postgres, Path dir) {
        try {
            postgres.close();
            PostgresBinaries.deleteTree(dir);
        } catch (IOException e) {
            // Logging may already be shut down at JVM exit; stderr reaches the test report.
            System.err.println("could not clean up test PostgreSQL in " + dir + ": " + e);
        }
    }
}
