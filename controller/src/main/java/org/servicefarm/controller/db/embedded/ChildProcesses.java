package org.servicefarm.controller.db.embedded;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.ProcessBuilder.Redirect;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the short helper commands (initdb, pg_ctl, id, useradd, test) with a bounded wait. */
final class ChildProcesses {

    private ChildProcesses() {}

    /**
     * Runs {@code command} to completion and returns its exit code. Output goes to {@code output}
     * rather than a pipe so that a chatty command cannot block on a full pipe while we wait.
     */
    static int run(List<String> command, Path workDir, Redirect output, Duration timeout)
            throws IOException {
        Process process = new ProcessBuilder(command)
                .directory(workDir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(output)
                .redirectInput(Redirect.from(Path.of("/dev/null").toFile()))
                .start();
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                destroyTree(process.toHandle());
                throw new IOException("'" + String.join(" ", command) + "' did not finish within "
                        + timeout.toSeconds() + " s and was killed");
            }
            return process.exitValue();
        } catch (InterruptedException e) {
            destroyTree(process.toHandle());
            Thread.currentThread().interrupt();
            throw interrupted("waiting for '" + String.join(" ", command) + "'", e);
        }
    }

    /** Kills a process and everything it started: runuser leaves its child behind otherwise. */
    static void destroyTree(ProcessHandle process) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
    }

    static InterruptedIOException interrupted(String activity, InterruptedException cause) {
        InterruptedIOException e = new InterruptedIOException("interrupted while " + activity);
        e.initCause(cause);
        return e;
    }

    /** The last {@code maxLines} lines of a log file written after {@code fromOffset}. */
    static String tail(Path logFile, long fromOffset, int maxLines) {
        try (SeekableByteChannel channel = Files.newByteChannel(logFile)) {
            // Read at most the last 64 KiB: the log of a long-lived server keeps growing.
            long start = Math.max(Math.max(fromOffset, 0), channel.size() - 64 * 1024);
            ByteBuffer buffer = ByteBuffer.allocate((int) Math.max(0, channel.size() - start));
            channel.position(start);
            while (buffer.hasRemaining() && channel.read(buffer) > 0) {
                // keep reading until the buffer is full or the file ends
            }
            String text = new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8);
            List<String> lines = text.lines().toList();
            List<String> last = lines.subList(Math.max(0, lines.size() - maxLines), lines.size());
            return last.isEmpty() ? "(log is empty)" : String.join("\n", last);
        } catch (IOException e) {
            // The tail only decorates another error; say why it is missing instead of failing.
            return "(could not read " + logFile + ": " + e + ")";
        }
    }

    static long sizeOf(Path file) throws IOException {
        return Files.exists(file) ? Files.size(file) : 0;
    }
}
