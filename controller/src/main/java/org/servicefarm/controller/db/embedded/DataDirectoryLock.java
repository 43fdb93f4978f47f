package org.servicefarm.controller.db.embedded;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * An exclusive lock on {@code <dataDir>.lock}, held by the controller process for as long as it
 * runs a server on the data directory. The operating system drops the lock when that process
 * dies, even by SIGKILL, so whoever acquires it knows that any server still running on the data
 * directory was left behind by a dead controller and may be stopped.
 */
final class DataDirectoryLock implements Closeable {

    private final Path file;
    private final FileChannel channel;
    private static final Set<PosixFilePermission> OWNER_ONLY =
            PosixFilePermissions.fromString("rw-------");

    private final FileLock lock;

    private DataDirectoryLock(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    /** Acquires the lock or fails at once, naming the data directory that is in use. */
    static DataDirectoryLock acquire(Path dataDir) throws IOException {
        Path file = dataDir.resolveSibling(dataDir.getFileName() + ".lock");
        // Owner-only like everything beside the data directory; an existing file is made so too.
        FileChannel channel = FileChannel.open(file, Set.of(StandardOpenOption.CREATE,
                StandardOpenOption.WRITE), PosixFilePermissions.asFileAttribute(OWNER_ONLY));
        Files.setPosixFilePermissions(file, OWNER_ONLY);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            channel.close();
            throw new IOException(dataDir + " is already in use by a PostgreSQL server this process"
                    + " started", e);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        if (lock == null) {
            channel.close();
            throw new IOException(dataDir + " is in use by another controller process (it holds "
                    + file + "); stop that controller or choose another data directory");
        }
        return new DataDirectoryLock(file, channel, lock);
    }

    Path file() {
        return file;
    }

    /** Releases the lock. The file stays: deleting it could let two processes lock two files. */
    @Override
    public void close() throws IOException {
        try {
            lock.release();
        } finally {
            channel.close();
        }
    }
}
