package org.servicefarm.controller.db.embedded;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedPostgresTest {

    @TempDir
    Path tempDir;
    Path dataDir;

    @BeforeEach
    void makeTempDirReachable() throws IOException {
        // Under root the server runs as another user, who must be able to enter the directory.
        Files.setPosixFilePermissions(tempDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        dataDir = tempDir.resolve("pgdata");
    }

    @Test
    void startsOnEmptyDirectoryAndServesTheServicefarmDatabase() throws Exception {
        try (EmbeddedPostgres postgres = EmbeddedPostgres.start(dataDir, 0)) {
            assertTrue(postgres.port() > 0);
            assertTrue(postgres.jdbcUrl().contains("socketFactoryArg=" + postgres.socketFile()),
                    postgres.jdbcUrl());
            assertFalse(postgres.listensOnTcp());
            assertEquals("servicefarm", queryString(postgres, "select current_database()"));
            assertEquals("1", queryString(postgres, "select 1"));
            assertEquals("UTF8", queryString(postgres, "show server_encoding"));
            assertTrue(Files.readString(postgres.logFile())
                    .contains("database system is ready to accept connections"));
            assertEquals(tempDir.resolve("postgres.log"), postgres.logFile());
        }
    }

    @Test
    void committedDataSurvivesCloseAndRestartOnTheSameDirectory() throws Exception {
        String url;
        try (EmbeddedPostgres postgres = EmbeddedPostgres.start(dataDir, 0)) {
            url = postgres.jdbcUrl();
            execute(postgres, "create table services (name text primary key)");
            execute(postgres, "insert into services values ('static-web')");
        }
        assertThrows(SQLException.class, () -> DriverManager.getConnection(url, "postgres", "").close(),
                "server still accepts connections after close()");

        try (EmbeddedPostgres restarted = EmbeddedPostgres.start(dataDir, 0)) {
            assertEquals("static-web", queryString(restarted, "select name from services"));
        }
    }

    @Test
    void staleLockFileWithDeadPidDoesNotPreventStart() throws Exception {
        initialiseAndStop();
        Process exited = new ProcessBuilder("true").start();
        exited.waitFor();
        writeLockFile(exited.pid());

        try (EmbeddedPostgres postgres = EmbeddedPostgres.start(dataDir, 0)) {
            assertEquals("1", queryString(postgres, "select 1"));
        }
    }

    @Test
    void staleLockFilesWhosePidWasReusedByAnotherProgramDoNotPreventStartOnTheSamePort() throws Exception {
        int port;
        try (EmbeddedPostgres first = EmbeddedPostgres.start(dataDir, 0)) {
            port = first.port();
        }
        Process unrelated = new ProcessBuilder("sleep", "60").start();
        try {
            writeLockFile(unrelated.pid());
            // The socket's lock file, as a server killed while using this port leaves it.
            Path socketDir = Files.createDirectories(SocketDirectory.pathFor(dataDir));
            Files.writeString(socketDir.resolve(".s.PGSQL." + port + ".lock"), unrelated.pid() + "\n");

            try (EmbeddedPostgres postgres = EmbeddedPostgres.start(dataDir, port)) {
                assertEquals("1", queryString(postgres, "select 1"));
            }
            assertTrue(unrelated.isAlive(), "start must not touch the process named in the lock file");
        } finally {
            unrelated.destroyForcibly();
            unrelated.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void secondServerOnADataDirectoryInUseIsRefusedAndTheFirstKeepsRunning() throws Exception {
        try (EmbeddedPostgres first = EmbeddedPostgres.start(dataDir, 0)) {
            IOException refused = assertThrows(IOException.class, () -> EmbeddedPostgres.start(dataDir, 0));
            assertTrue(refused.getMessage().contains(dataDir + " is already in use"), refused.getMessage());
            assertEquals("1", queryString(first, "select 1"));
        }
    }

    @Test
    void aDataDirectoryInUseByAnotherLiveControllerIsRefused() throws Exception {
        Process controller = startServerInAnotherJvm();
        try {
            awaitReadyPort(controller);
            IOException refused = assertThrows(IOException.class, () -> EmbeddedPostgres.start(dataDir, 0));
            assertTrue(refused.getMessage().contains("in use by another controller process"),
                    refused.getMessage());
        } finally {
            controller.destroy();  // SIGTERM: its shutdown hook stops its server
            assertTrue(controller.waitFor(60, TimeUnit.SECONDS));
        }
    }

    @Test
    @Timeout(180)
    void serverLeftRunningByAKilledControllerIsStoppedAndItsDataKept() throws Exception {
        Process controller = startServerInAnotherJvm();
        int leftoverPort;
        try {
            leftoverPort = awaitReadyPort(controller);
            try (Connection connection = DriverManager.getConnection(
                            socketUrl(leftoverPort), "postgres", "");
                    Statement statement = connection.createStatement()) {
                statement.execute("create table hosts (name text)");
                statement.execute("insert into hosts values ('host-1')");
            }
        } finally {
            controller.destroyForcibly();  // SIGKILL: no shutdown hook runs
            assertTrue(controller.waitFor(60, TimeUnit.SECONDS));
        }
        DriverManager.getConnection(socketUrl(leftoverPort), "postgres", "")
                .close();  // the server outlived its controller
        long leftoverPid = Long.parseLong(
                Files.readAllLines(dataDir.resolve("postmaster.pid")).get(0).strip());

        try (EmbeddedPostgres restarted = EmbeddedPostgres.start(dataDir, 0)) {
            assertEquals("host-1", queryString(restarted, "select name from hosts"));
            // The restarted server takes over the same socket, so judge the old one by its pid.
            assertFalse(ProcessHandle.of(leftoverPid).map(ProcessHandle::isAlive).orElse(false),
                    "the leftover server still runs");
        }
    }

    @Test
    void underRootADataDirectoryTheServerUserCannotReachIsReportedClearly() throws Exception {
        boolean root = ServerAccount.runsAsRoot();
        if (!root && "true".equals(System.getenv("CI"))) {
            throw new AssertionError("not root: only root hands the server to another user, and"
                    + " CI (which runs as root) must run this test");
        }
        assumeTrue(root, "SKIPPED: only root hands the server to another user");
        Path privateDir = Files.createDirectory(tempDir.resolve("private"));
        Files.setPosixFilePermissions(privateDir, PosixFilePermissions.fromString("rwx------"));

        IOException refused = assertThrows(IOException.class,
                () -> EmbeddedPostgres.start(privateDir.resolve("pgdata"), 0));
        assertTrue(refused.getMessage().contains("may not enter " + privateDir), refused.getMessage());
    }

    @Test
    void startingTwiceOnAFixedTcpPortFailsWithTheServerLog() throws Exception {
        try (EmbeddedPostgres first = EmbeddedPostgres.start(dataDir, 0, true)) {
            Path otherData = tempDir.resolve("other");
            IOException refused = assertThrows(IOException.class,
                    () -> EmbeddedPostgres.start(otherData, first.port(), true));
            assertTrue(refused.getMessage().contains("exited with code"), refused.getMessage());
            assertTrue(refused.getMessage().contains("could not"), refused.getMessage());
        }
    }

    private String socketUrl(int port) {
        return "jdbc:postgresql://localhost/servicefarm?socketFactory="
                + "org.newsclub.net.unix.AFUNIXSocketFactory$FactoryArg&socketFactoryArg="
                + SocketDirectory.pathFor(dataDir.toAbsolutePath().normalize()).resolve(".s.PGSQL." + port);
    }

    private Process startServerInAnotherJvm() throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                ServerInAnotherJvm.class.getName(), dataDir.toString())
                .redirectErrorStream(true)
                .start();
    }

    /** Reads the other JVM's output until it reports its port; fails with the output if it dies. */
    private static int awaitReadyPort(Process controller) throws IOException {
        StringBuilder output = new StringBuilder();
        BufferedReader lines = new BufferedReader(
                new InputStreamReader(controller.getInputStream(), StandardCharsets.UTF_8));
        for (String line; (line = lines.readLine()) != null; ) {
            if (line.startsWith("READY ")) {
                return Integer.parseInt(line.substring("READY ".length()));
            }
            output.append(line).append('\n');
        }
        throw new AssertionError("the other JVM exited before its server was ready:\n" + output);
    }

    private void initialiseAndStop() throws IOException {
        EmbeddedPostgres.start(dataDir, 0).close();
        assertFalse(Files.exists(dataDir.resolve("postmaster.pid")), "clean stop leaves no lock file");
    }

    private void writeLockFile(long pid) throws IOException {
        Files.writeString(dataDir.resolve("postmaster.pid"), pid + "\n" + dataDir + "\n");
    }

    private static void execute(EmbeddedPostgres postgres, String sql) throws SQLException {
        try (Connection connection = DriverManager.getConnection(postgres.jdbcUrl(), postgres.user(), "");
                Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }

    private static String queryString(EmbeddedPostgres postgres, String sql) throws SQLException {
        try (Connection connection = DriverManager.getConnection(postgres.jdbcUrl(), postgres.user(), "");
                Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery(sql)) {
            assertTrue(rows.next());
            return rows.getString(1);
        }
    }
}
