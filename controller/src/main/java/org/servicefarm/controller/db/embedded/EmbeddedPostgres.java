package org.servicefarm.controller.db.embedded;

import java.io.IOException;
import java.lang.ProcessBuilder.Redirect;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * A PostgreSQL 17 server run as a child process of the controller, the database it uses unless
 * pointed at an external one. Binaries come from the zonky binaries jar (see
 * {@link PostgresBinaries}); when the controller is root the server runs as an unprivileged user
 * (see {@link ServerAccount}).
 *
 * <p>The server's own output, and that of initdb and pg_ctl, is appended to
 * {@code postgres.log} in the data directory's parent, next to the data directory, so it
 * survives re-initialising the data and is found where the data is.
 *
 * <p>The server listens on 127.0.0.1 only, with trust authentication for the superuser
 * {@value #USER}: anyone who can open a loopback connection on this host can use it.
 */
public final class EmbeddedPostgres implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(EmbeddedPostgres.class.getName());

    /** The database the controller uses, created on first start. */
    public static final String DATABASE = "servicefarm";
    /** The superuser initdb creates; it needs no password (trust on loopback). */
    public static final String USER = "postgres";

    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration INITDB_TIMEOUT = Duration.ofSeconds(120);
    private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);
    /** With port 0 another process may take the port we picked before postgres binds it. */
    private static final int ATTEMPTS_WITH_PICKED_PORT = 3;
    private static final int LOG_TAIL_LINES = 30;

    private final Path dataDir;
    private final DataDirectoryLock lock;
    private final Path logFile;
    private final Path socketDir;
    private final PostgresBinaries binaries;
    private final ServerAccount account;
    private final Process server;
    private final int port;
    private final Thread shutdownHook;
    private boolean closed;

    private EmbeddedPostgres(Path dataDir, DataDirectoryLock lock, Path logFile, Path socketDir,
            PostgresBinaries binaries, ServerAccount account, Process server, int port) {
        this.dataDir = dataDir;
        this.lock = lock;
        this.logFile = logFile;
        this.socketDir = socketDir;
        this.binaries = binaries;
        this.account = account;
        this.server = server;
        this.port = port;
        this.shutdownHook = new Thread(this::closeAtJvmExit, "embedded-postgres-shutdown");
    }

    /**
     * Starts a server on {@code dataDir}, initialising it if it holds no cluster yet, and returns
     * once database {@value #DATABASE} accepts connections. A server left running on the data
     * directory by a controller that was killed is stopped first; a data directory in use by a
     * live controller is refused.
     *
     * @param port the TCP port on 127.0.0.1, or 0 to pick a free one
     */
    public static EmbeddedPostgres start(Path dataDir, int port) throws IOException {
        long started = System.nanoTime();
        Path data = dataDir.toAbsolutePath().normalize();
        Files.createDirectories(data);
        Path logFile = data.resolveSibling("postgres.log");
        DataDirectoryLock lock = DataDirectoryLock.acquire(data);
        Path socketDir = null;
        EmbeddedPostgres postgres = null;
        try {
            ServerAccount account = ServerAccount.forThisProcess(logFile);
            PostgresBinaries binaries = PostgresBinaries.unpacked(account.switchesUser());
            account.takeOwnership(data);
            account.requireAccess(binaries.bin("postgres"), List.of(data));
            if (!Files.exists(data.resolve("PG_VERSION"))) {
                initdb(binaries, account, data, logFile);
            }
            PostmasterPidFile.clearLeftovers(data, lock);
            socketDir = SocketDirectory.prepare(data, account);
            account.requireAccess(binaries.bin("postgres"), List.of(socketDir));
            postgres = launchUntilReady(data, lock, logFile, socketDir, binaries, account, port);
            Runtime.getRuntime().addShutdownHook(postgres.shutdownHook);
            postgres.createDatabaseIfMissing();
        } catch (IOException | RuntimeException e) {
            try {
                if (postgres != null) {
                    postgres.close();  // also deletes the socket directory and releases the lock
                } else {
                    if (socketDir != null) {
                        PostgresBinaries.deleteTree(socketDir);
                    }
                    lock.close();
                }
            } catch (IOException cleanupFailure) {
                e.addSuppressed(cleanupFailure);
            }
            throw e;
        }
        LOG.info(String.format(Locale.ROOT,
                "PostgreSQL listening on 127.0.0.1:%d (data %s, log %s), started in %d ms",
                postgres.port, data, logFile, Duration.ofNanos(System.nanoTime() - started).toMillis()));
        return postgres;
    }

    /** JDBC URL of database {@value #DATABASE}. */
    public String jdbcUrl() {
        return jdbcUrl(DATABASE);
    }

    /** JDBC URL of another database on this server, e.g. one made for a test. */
    public String jdbcUrl(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
    }

    public String user() {
        return USER;
    }

    public int port() {
        return port;
    }

    /** Where the server's output goes: {@code postgres.log} beside the data directory. */
    public Path logFile() {
        return logFile;
    }

    /** Opens a connection as {@value #USER} to {@code database}. */
    public Connection connect(String database) throws SQLException {
        return connect(port, database);
    }

    /**
     * Stops the server with a fast shutdown (open sessions are ended, committed data is safe),
     * kills it if that takes longer than 30 s, removes its socket directory and releases the data
     * directory for the next start. Also runs at JVM exit if not called before.
     */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // The JVM is already shutting down; this very call may come from the hook.
            LOG.fine("closing embedded PostgreSQL during JVM shutdown");
        }
        try {
            stopServer();
        } finally {
            try {
                PostgresBinaries.deleteTree(socketDir);
            } finally {
                lock.close();
            }
        }
    }

    private void closeAtJvmExit() {
        try {
            close();
        } catch (IOException e) {
            // Logging may already be shut down by its own hook; stderr is all that is left.
            System.err.println("could not stop embedded PostgreSQL on " + dataDir + ": " + e);
        }
    }

    private void stopServer() throws IOException {
        if (!server.isAlive()) {
            LOG.warning(() -> "PostgreSQL had already exited with code " + server.exitValue()
                    + "; see " + logFile);
            return;
        }
        List<String> stop = List.of(binaries.bin("pg_ctl").toString(), "stop", "-D",
                dataDir.toString(), "-m", "fast", "-w", "-t", Long.toString(SHUTDOWN_TIMEOUT.toSeconds()));
        try {
            int exit = ChildProcesses.run(account.command(stop), binaries.home(),
                    Redirect.appendTo(logFile.toFile()), SHUTDOWN_TIMEOUT.plusSeconds(5));
            if (!server.waitFor(exit == 0 ? 5 : 1, TimeUnit.SECONDS)) {
                LOG.warning(() -> "PostgreSQL did not stop (pg_ctl exit code " + exit
                        + ", see " + logFile + "); killing it");
                killServer();
            }
        } catch (InterruptedException e) {
            killServer();
            Thread.currentThread().interrupt();
            throw ChildProcesses.interrupted("stopping PostgreSQL", e);
        }
    }

    private void killServer() throws IOException {
        ChildProcesses.destroyTree(server.toHandle());
        try {
            if (!server.waitFor(10, TimeUnit.SECONDS)) {
                throw new IOException("PostgreSQL (pid " + server.pid() + ") survived SIGKILL");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ChildProcesses.interrupted("waiting for killed PostgreSQL to exit", e);
        }
    }

    private static void initdb(PostgresBinaries binaries, ServerAccount account, Path data,
            Path logFile) throws IOException {
        try (Stream<Path> entries = Files.list(data)) {
            if (entries.findAny().isPresent()) {
                throw new IOException(data + " is not empty but holds no PostgreSQL data (no"
                        + " PG_VERSION); refusing to initialise over it");
            }
        }
        LOG.info(() -> "initialising a new PostgreSQL data directory in " + data);
        long offset = ChildProcesses.sizeOf(logFile);
        List<String> initdb = List.of(binaries.bin("initdb").toString(), "-D", data.toString(),
                "-U", USER, "-E", "UTF8", "--locale=C", "--auth-local=trust", "--auth-host=trust",
                "--no-instructions");
        int exit = ChildProcesses.run(account.command(initdb), binaries.home(),
                Redirect.appendTo(logFile.toFile()), INITDB_TIMEOUT);
        if (exit != 0) {
            throw new IOException("initdb failed with exit code " + exit + "; last lines of "
                    + logFile + ":\n" + ChildProcesses.tail(logFile, offset, LOG_TAIL_LINES));
        }
    }

    private static EmbeddedPostgres launchUntilReady(Path data, DataDirectoryLock lock, Path logFile,
            Path socketDir, PostgresBinaries binaries, ServerAccount account, int requestedPort)
            throws IOException {
        int attempts = requestedPort == 0 ? ATTEMPTS_WITH_PICKED_PORT : 1;
        for (int attempt = 1; ; attempt++) {
            int port = requestedPort == 0 ? freePort() : requestedPort;
            long offset = ChildProcesses.sizeOf(logFile);
            List<String> command = List.of(binaries.bin("postgres").toString(),
                    "-D", data.toString(), "-p", Integer.toString(port),
                    "-c", "listen_addresses=127.0.0.1", "-k", socketDir.toString(),
                    // Explicit, so an edited postgresql.conf cannot trade away durability
                    // or send the server's messages somewhere other than our log file.
                    "-c", "fsync=on", "-c", "logging_collector=off");
            Process server = new ProcessBuilder(account.command(command))
                    .directory(binaries.home().toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(Redirect.appendTo(logFile.toFile()))
                    .redirectInput(Redirect.from(Path.of("/dev/null").toFile()))
                    .start();
            EmbeddedPostgres postgres = new EmbeddedPostgres(
                    data, lock, logFile, socketDir, binaries, account, server, port);
            if (postgres.awaitReady(offset)) {
                return postgres;
            }
            String tail = ChildProcesses.tail(logFile, offset, LOG_TAIL_LINES);
            if (attempt >= attempts) {
                throw new IOException("PostgreSQL exited with code " + server.exitValue()
                        + " while starting on port " + port + "; last lines of " + logFile + ":\n" + tail);
            }
            LOG.warning(() -> "PostgreSQL exited while starting on port " + port
                    + ", retrying with another port:\n" + tail);
        }
    }

    /**
     * Waits until a JDBC connection succeeds. Returns false if the server exited first; kills it
     * and throws if it neither exits nor accepts connections in time.
     */
    private boolean awaitReady(long logOffset) throws IOException {
        long deadline = System.nanoTime() + STARTUP_TIMEOUT.toNanos();
        SQLException lastFailure = null;
        while (server.isAlive()) {
            try (Connection connection = connect(port, "postgres")) {
                if (servesOurDataDirectory(connection)) {
                    return true;
                }
            } catch (SQLException e) {
                lastFailure = e;  // refused or "starting up" until the server is ready
            }
            if (System.nanoTime() > deadline) {
                killServer();
                throw new IOException("PostgreSQL did not accept connections on port " + port
                        + " within " + STARTUP_TIMEOUT.toSeconds() + " s (last error: " + lastFailure
                        + "); last lines of " + logFile + ":\n"
                        + ChildProcesses.tail(logFile, logOffset, LOG_TAIL_LINES));
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                killServer();
                Thread.currentThread().interrupt();
                throw ChildProcesses.interrupted("waiting for PostgreSQL to start", e);
            }
        }
        return false;
    }

    /**
     * Whether the connection reached this server. Another server may already listen on a fixed
     * port; ours then exits, but a connection made before we notice must not pass for ready.
     */
    private boolean servesOurDataDirectory(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery("show data_directory")) {
            row.next();
            return Path.of(row.getString(1)).equals(dataDir);
        }
    }

    private void createDatabaseIfMissing() throws IOException {
        try (Connection connection = connect(port, "postgres");
                PreparedStatement exists =
                        connection.prepareStatement("select 1 from pg_database where datname = ?")) {
            exists.setString(1, DATABASE);
            try (ResultSet row = exists.executeQuery()) {
                if (row.next()) {
                    return;
                }
            }
            try (Statement create = connection.createStatement()) {
                create.execute("create database " + DATABASE);
            }
            LOG.info(() -> "created database " + DATABASE);
        } catch (SQLException e) {
            throw new IOException("could not create database " + DATABASE + " on port " + port, e);
        }
    }

    private static Connection connect(int port, String database) throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", USER);
        properties.setProperty("connectTimeout", "5");
        properties.setProperty("ApplicationName", "servicefarm-embedded-postgres");
        return DriverManager.getConnection(
                "jdbc:postgresql://127.0.0.1:" + port + "/" + database, properties);
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return socket.getLocalPort();
        }
    }
}
