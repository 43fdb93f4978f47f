package org.servicefarm.controller.db.embedded;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.stream.Stream;

/**
 * The directory for the server's Unix socket and its lock file. Postgres requires one even though
 * the controller connects over TCP. It lives under java.io.tmpdir because a socket path may not
 * exceed 107 bytes, and its name is fixed per data directory so a controller killed before it
 * could delete the directory does not leave a new one behind on every restart.
 */
final class SocketDirectory {

    private SocketDirectory() {}

    /**
     * Creates (or reuses and empties) the socket directory for {@code dataDir}, owned by the
     * server's account. Call only after leftover servers on the data directory are stopped: what
     * remains then is stale, and a stale socket lock file whose pid was reused by a live process
     * would stop postgres from starting on the same port.
     */
    static Path prepare(Path dataDir, ServerAccount account) throws IOException {
        Path dir = pathFor(dataDir);
        try {
            Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(
                    PosixFilePermissions.fromString("rwx------")));
        } catch (FileAlreadyExistsException e) {
            requireOurs(dir, account);
            try (Stream<Path> stale = Files.list(dir)) {
                for (Path entry : (Iterable<Path>) stale::iterator) {
                    PostgresBinaries.deleteTree(entry);
                }
            }
        }
        account.takeOwnership(dir);
        return dir;
    }

    static Path pathFor(Path dataDir) {
        return Path.of(System.getProperty("java.io.tmpdir"), "servicefarm-pg-" + shortHash(dataDir));
    }

    /**
     * A directory found in a shared /tmp is reused only if we or the server's account made it;
     * another user could otherwise plant a symlink or watch the socket.
     */
    private static void requireOurs(Path dir, ServerAccount account) throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(dir + " exists and is not a directory; remove it");
        }
        UserPrincipalLookupService users = dir.getFileSystem().getUserPrincipalLookupService();
        UserPrincipal owner = Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS);
        if (!owner.equals(users.lookupPrincipalByName(System.getProperty("user.name")))
                && !owner.equals(users.lookupPrincipalByName(account.name()))) {
            throw new IOException(dir + " belongs to " + owner.getName() + ", not to us; remove it");
        }
    }

    private static String shortHash(Path dataDir) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256")
                    .digest(dataDir.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest).substring(0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime must provide SHA-256", e);
        }
    }
}
