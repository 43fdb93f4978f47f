package org.servicefarm.controller.db.embedded;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * The server's lock file, {@code postmaster.pid}, whose first line is the server's pid, and what
 * a controller that died without stopping its server leaves behind: either a server still
 * running (the controller was killed by SIGKILL) or only the file (the whole machine or container
 * stopped). Postgres refuses to start on a file whose pid was since reused by a live process, so
 * we judge the file ourselves.
 */
final class PostmasterPidFile {

    private static final Logger LOG = Logger.getLogger(PostmasterPidFile.class.getName());

    private static final Duration SMART_SHUTDOWN_WAIT = Duration.ofSeconds(30);
    private static final Duration KILL_WAIT = Duration.ofSeconds(10);

    private PostmasterPidFile() {}

    /**
     * Stops a server left running on {@code dataDir} and removes a stale {@code postmaster.pid}.
     * Only for a caller holding the {@link DataDirectoryLock}: that proves no live controller owns
     * such a server.
     */
    static void clearLeftovers(Path dataDir, DataDirectoryLock heldLock) throws IOException {
        Path pidFile = dataDir.resolve("postmaster.pid");
        if (!Files.exists(pidFile)) {
            return;
        }
        OptionalLong pid = firstLinePid(pidFile);
        Path realDataDir = dataDir.toRealPath();
        List<Long> leftovers = postgresProcessesIn(realDataDir, pid);
        if (!leftovers.isEmpty()) {
            stopLeftoverServer(dataDir, realDataDir, pid, leftovers, heldLock);
        }
        if (Files.deleteIfExists(pidFile)) {
            LOG.warning(() -> "removed stale " + pidFile + ": pid "
                    + (pid.isPresent() ? pid.getAsLong() : "(unreadable)")
                    + " is not a PostgreSQL server on this data directory");
        }
    }

    /**
     * SIGTERM asks the postmaster for a smart shutdown, which is quick here because its clients
     * died with the controller. Its other processes are not signalled: they follow the postmaster,
     * and a backend orphaned by a killed postmaster exits once it notices.
     */
    private static void stopLeftoverServer(Path dataDir, Path realDataDir, OptionalLong pid,
            List<Long> leftovers, DataDirectoryLock heldLock) throws IOException {
        Optional<ProcessHandle> postmaster = pid.isPresent() && leftovers.contains(pid.getAsLong())
                ? ProcessHandle.of(pid.getAsLong()) : Optional.empty();
        LOG.warning(() -> "stopping PostgreSQL processes " + leftovers + " left running on "
                + dataDir + " by a controller that exited without stopping them (we hold "
                + heldLock.file() + ", so no live controller owns them)");
        postmaster.ifPresent(ProcessHandle::destroy);
        if (awaitNone(realDataDir, pid, SMART_SHUTDOWN_WAIT)) {
            return;
        }
        LOG.warning(() -> "PostgreSQL left on " + dataDir + " did not stop within "
                + SMART_SHUTDOWN_WAIT.toSeconds() + " s; killing it");
        postmaster.ifPresent(ProcessHandle::destroyForcibly);
        if (!awaitNone(realDataDir, pid, KILL_WAIT)) {
            throw new IOException("PostgreSQL processes " + postgresProcessesIn(realDataDir, pid)
                    + " still run on " + dataDir + " and could not be stopped; stop them before"
                    + " starting again");
        }
    }

    private static boolean awaitNone(Path realDataDir, OptionalLong pid, Duration timeout)
            throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!postgresProcessesIn(realDataDir, pid).isEmpty()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw ChildProcesses.interrupted("waiting for a leftover PostgreSQL to stop", e);
            }
        }
        return true;
    }

    private static OptionalLong firstLinePid(Path pidFile) throws IOException {
        List<String> lines = Files.readAllLines(pidFile, StandardCharsets.UTF_8);
        if (lines.isEmpty()) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseLong(lines.get(0).trim()));
        } catch (NumberFormatException e) {
            // A torn write by a dying server; the process scan still finds a live one.
            return OptionalLong.empty();
        }
    }

    /**
     * Live postgres processes working in {@code realDataDir}. Every postgres process changes
     * into its data directory, so this also finds backends orphaned by a killed postmaster,
     * which may still write to the files.
     */
    private static List<Long> postgresProcessesIn(Path realDataDir, OptionalLong pidFromFile)
            throws IOException {
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            return procs.map(p -> p.getFileName().toString())
                    .filter(name -> name.chars().allMatch(Character::isDigit))
                    .map(Long::parseLong)
                    .filter(pid -> isPostgres(pid) && worksIn(pid, realDataDir, pidFromFile))
                    .sorted()
                    .toList();
        }
    }

    /**
     * A postgres process that has not exited. A zombie (exited, not yet reaped by a parent that is
     * gone or busy) holds no files and must not count, or we would wait for it forever.
     */
    private static boolean isPostgres(long pid) {
        Path proc = Path.of("/proc", Long.toString(pid));
        boolean named = readFirstLine(proc.resolve("comm")).map("postgres"::equals).orElse(false);
        return named && readFirstLine(proc.resolve("stat"))
                .map(stat -> stat.substring(stat.lastIndexOf(')') + 1).trim())
                .map(state -> !state.startsWith("Z") && !state.startsWith("X"))
                .orElse(false);
    }

    /**
     * Whether the process works in the data directory. When its working directory cannot be
     * read (another user's process) only the pid named in the lock file counts, conservatively.
     */
    private static boolean worksIn(long pid, Path realDataDir, OptionalLong pidFromFile) {
        try {
            return Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "cwd"))
                    .equals(realDataDir);
        } catch (IOException e) {
            return pidFromFile.isPresent() && pidFromFile.getAsLong() == pid;
        }
    }

    private static Optional<String> readFirstLine(Path file) {
        try {
            return Files.readAllLines(file).stream().findFirst().map(String::trim);
        } catch (IOException e) {
            // The process exited between listing /proc and reading it: it is not running.
            return Optional.empty();
        }
    }
}
