package org.servicefarm.controller.db.embedded;

import java.io.IOException;
import java.lang.ProcessBuilder.Redirect;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Set;
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
 * <p>Only the controller can open it (see {@link ClientAuthentication}): the server listens on a
 * Unix socket in a directory closed to every other account and admits only the controller's own
 * account there, by peer credentials. A TCP listener on 127.0.0.1, for tools such as psql, is
 * off unless asked for, and takes the superuser's password, kept in a 0600 file in the data
 * directory.
 */
public final class EmbeddedPostgres implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(EmbeddedPostgres.class.getName());

    /** The database the controller uses, created on first start. */
    public static final String DATABASE = "servicefarm";
    /** The superuser initdb creates; the controller's account connects as it over the socket. */
    public static final String USER = "postgres";

    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration INITDB_TIMEOUT = Duration.ofSeconds(120);
    private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);
    /** With port 0 another process may take the port we picked before postgres binds it. */
    private static final int ATTEMPTS_WITH_PICKED_PORT = 3;
    private static final int LOG_TAIL_LINES = 30;
    /** Names the socket file when no TCP port is asked for; the socket's directory is ours alone. */
    private static final int SOCKET_ONLY_PORT = 5432;

    private final Path dataDir;
    private final DataDirectoryLock lock;
    private final Path logFile;
    private final Path socketDir;
    private final PostgresBinaries binaries;
    private final ServerAccount account;
    private final Process server;
    private final int port;
    private final boolean tcp;
    private final Thread shutdownHook;
    private boolean closed;

    private EmbeddedPostgres(Path dataDir, DataDirectoryLock lock, Path logFile, Path socketDir,
            PostgresBinaries binaries, ServerAccount account, Process server, int port, boolean tcp) {
        this.dataDir = dataDir;
        this.lock = lock;
        this.logFile = logFile;
        this.socketDir = socketDir;
        this.binaries = binaries;
        this.account = account;
        this.server = server;
        this.port = port;
        this.tcp = tcp;
        this.shutdownHook = new Thread(this::closeAtJvmExit, "embedded-postgres-shutdown");
    }

    /**
     * Starts a server on {@code dataDir}, initialising it if it holds no cluster yet, and returns
     * once database {@value #DATABASE} accepts connections. A server left running on the data
     * directory by a controller that was killed is stopped first; a data directory in use by a
     * live controller is refused.
     *
     * <p>The server listens on its Unix socket only; see {@link #start(Path, int, boolean)}.
     *
     * @param port the port number that names the socket file, or 0 for the default
     */
    public static EmbeddedPostgres start(Path dataDir, int port) throws IOException {
        return start(dataDir, port, false);
    }

    /**
     * As {@link #start(Path, int)}, and with {@code tcp} also on 127.0.0.1:{@code port} (0 picks
     * a free port), where connections need {@link #password()}.
     */
    public static EmbeddedPostgres start(Path dataDir, int port, boolean tcp) throws IOException {
        long started = System.nanoTime();
        Path data = dataDir.toAbsolutePath().normalize();
        Files.createDirectories(data);
        Path logFile = data.resolveSibling("postgres.log");
        privateLog(logFile);
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
            ClientAuthentication.writeRules(data, System.getProperty("user.name"), USER);
            ClientAuthentication.password(data);
            account.takeOwnership(data);
            PostmasterPidFile.clearLeftovers(data, lock);
            socketDir = SocketDirectory.prepare(data, account);
            account.requireAccess(binaries.bin("postgres"), List.of(socketDir));
            postgres = launchUntilReady(data, lock, logFile, socketDir, binaries, account, port, tcp);
            Runtime.getRuntime().addShutdownHook(postgres.shutdownHook);
            SuperuserSession.createDatabaseIfMissing(postgres.socketFile(), DATABASE);
            SuperuserSession.setPassword(postgres.socketFile(), postgres.password());
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
                "PostgreSQL listening on %s%s (data %s, log %s), started in %d ms",
                postgres.socketFile(), tcp ? " and 127.0.0.1:" + postgres.port : "", data, logFile,
                Duration.ofNanos(System.nanoTime() - started).toMillis()));
        return postgres;
    }

    /** JDBC URL of database {@value #DATABASE}. */
    public String jdbcUrl() {
        return jdbcUrl(DATABASE);
    }

    /**
     * JDBC URL of another database on this server, e.g. one made for a test. It reaches the server
     * over its Unix socket, which admits only this JVM's operating-system account; no password.
     */
    public String jdbcUrl(String database) {
        return SuperuserSession.jdbcUrl(socketFile(), database);
    }

    /** JDBC URL over TCP on 127.0.0.1, which needs {@link #password()}; only if started so. */
    public String tcpJdbcUrl(String database) {
        if (!tcp) {
            throw new IllegalStateException("the embedded PostgreSQL was started without TCP");
        }
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
    }

    /** Whether the server also listens on 127.0.0.1:{@link #port()}. */
    public boolean listensOnTcp() {
        return tcp;
    }

    /** The superuser's password, needed over TCP only (kept 0600 in the data directory). */
    public String password() throws IOException {
        return ClientAuthentication.password(dataDir);
    }

    /** The server's Unix socket, in a directory only the server's account may enter. */
    public Path socketFile() {
        return socketDir.resolve(".s.PGSQL." + port);
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
        return SuperuserSession.open(socketFile(), database);
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

    /** The server's log may quote statements and their data: the controller's account's alone. */
    private static void privateLog(Path logFile) throws IOException {
        Set<PosixFilePermission> ownerOnly = PosixFilePermissions.fromString("rw-------");
        if (Files.exists(logFile, LinkOption.NOFOLLOW_LINKS)) {
            Files.setPosixFilePermissions(logFile, ownerOnly);
        } else {
            Files.createFile(logFile, PosixFilePermissions.asFileAttribute(ownerOnly));
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
                "-U", USER, "-E", "UTF8", "--locale=C", "--auth-local=peer",
                "--auth-host=scram-sha-256",
                "--no-instructions");
        int exit = ChildProcesses.run(account.command(initdb), binaries.home(),
                Redirect.appendTo(logFile.toFile()), INITDB_TIMEOUT);
        if (exit != 0) {
            throw new IOException("initdb failed with exit code " + exit + "; last lines of "
                    + logFile + ":\n" + ChildProcesses.tail(logFile, offset, LOG_TAIL_LINES));
        }
    }

    private static EmbeddedPostgres launchUntilReady(Path data, DataDirectoryLock lock, Path logFile,
            Path socketDir, PostgresBinaries binaries, ServerAccount account, int requestedPort,
            boolean tcp) throws IOException {
        boolean picksPort = requestedPort == 0 && tcp;
        int attempts = picksPort ? ATTEMPTS_WITH_PICKED_PORT : 1;
        for (int attempt = 1; ; attempt++) {
            int port = picksPort ? freePort() : requestedPort == 0 ? SOCKET_ONLY_PORT : requestedPort;
            long offset = ChildProcesses.sizeOf(logFile);
            List<String> command = List.of(binaries.bin("postgres").toString(),
                    "-D", data.toString(), "-p", Integer.toString(port),
                    "-c", "listen_addresses=" + (tcp ? "127.0.0.1" : ""),
                    "-k", socketDir.toString(), "-c", "unix_socket_permissions=0700",
                    "-c", "password_encryption=scram-sha-256",
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
                    data, lock, logFile, socketDir, binaries, account, server, port, tcp);
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
            try (Connection connection = SuperuserSession.open(socketFile(), "postgres")) {
                if (servesOurDataDirectory(connection)) {
                    return true;
                }
            } catch (SQLException e) {
                lastFailure = e;  // refused or "starting up" until the server is ready
            }
            if (System.nanoTime() > deadline) {
                killServer();
                throw new IOException("PostgreSQL did not accept connections on " + socketFile()
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

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return socket.getLocalPort();
        }
    }
}
