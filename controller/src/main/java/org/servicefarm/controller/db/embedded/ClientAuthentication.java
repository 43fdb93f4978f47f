package org.servicefarm.controller.db.embedded;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * Who may connect to the embedded server, written into its data directory at every start so a
 * directory made by an older controller (trust for everyone on loopback) is migrated:
 * <ul>
 *   <li>over the Unix socket, only the operating-system account the controller runs as, by peer
 *       credentials (mapped to the superuser in {@code pg_ident.conf}); the socket's directory is
 *       also closed to every other account;</li>
 *   <li>over TCP, when the controller was asked to listen there, only with the superuser's
 *       password ({@code scram-sha-256}), a random one made at first start and kept in
 *       {@value #PASSWORD_FILE} (mode 0600) in the data directory.</li>
 * </ul>
 * No rule trusts anyone: another local account can neither enter the socket's directory nor
 * authenticate over TCP without reading a file only the server's account and root can read.
 */
final class ClientAuthentication {

    static final String PASSWORD_FILE = "servicefarm.password";
    static final String IDENT_MAP = "servicefarm";
    private static final int PASSWORD_BYTES = 24;
    /** A user name that can go into pg_ident.conf without quoting. */
    private static final Pattern PLAIN_USER = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]*");

    private ClientAuthentication() {}

    /**
     * Rewrites {@code pg_hba.conf} and {@code pg_ident.conf} so that {@code controllerUser} (the
     * controller's OS account) alone may connect as {@code superuser} over the socket, and
     * password holders over loopback TCP.
     */
    static void writeRules(Path dataDir, String controllerUser, String superuser) throws IOException {
        if (!PLAIN_USER.matcher(controllerUser).matches()) {
            throw new IOException("the controller's account name '" + controllerUser
                    + "' cannot be written into pg_ident.conf; run it under a plain user name");
        }
        String hba = """
                # Written by the Service Farm controller at every start; edits here are lost.
                # Socket: only the controller's own account (peer credentials, see pg_ident.conf).
                local   all   all                  peer map=%s
                # TCP (only when the controller is asked to listen there): the password in %s.
                host    all   all   127.0.0.1/32   scram-sha-256
                host    all   all   ::1/128        scram-sha-256
                # A streaming standby of this server, with the same password.
                host    replication   all   127.0.0.1/32   scram-sha-256
                """.formatted(IDENT_MAP, PASSWORD_FILE);
        String ident = """
                # Written by the Service Farm controller at every start; edits here are lost.
                # MAPNAME   SYSTEM-USERNAME   PG-USERNAME
                %s   %s   %s
                """.formatted(IDENT_MAP, controllerUser, superuser);
        replace(dataDir.resolve("pg_hba.conf"), hba);
        replace(dataDir.resolve("pg_ident.conf"), ident);
    }

    /**
     * The superuser's password for TCP connections: read from {@value #PASSWORD_FILE}, or made
     * and written there (0600) if the data directory has none yet.
     */
    static String password(Path dataDir) throws IOException {
        Path file = dataDir.resolve(PASSWORD_FILE);
        if (Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            String stored = Files.readString(file, StandardCharsets.UTF_8).strip();
            if (!stored.isEmpty()) {
                return stored;
            }
        }
        byte[] random = new byte[PASSWORD_BYTES];
        new SecureRandom().nextBytes(random);
        String password = HexFormat.of().formatHex(random);
        Files.deleteIfExists(file);
        try {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(
                    PosixFilePermissions.fromString("rw-------")));
        } catch (FileAlreadyExistsException e) {
            throw new IOException(file + " appeared while the controller was creating it; is"
                    + " another controller starting on this data directory?", e);
        }
        Files.writeString(file, password + "\n", StandardCharsets.UTF_8,
                StandardOpenOption.TRUNCATE_EXISTING, LinkOption.NOFOLLOW_LINKS);
        return password;
    }

    /** Replaces a file's content, keeping it readable only by its owner. */
    private static void replace(Path file, String content) throws IOException {
        Path next = file.resolveSibling(file.getFileName() + ".next");
        Files.deleteIfExists(next);
        Files.createFile(next, PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rw-------")));
        Files.writeString(next, content, StandardCharsets.UTF_8, StandardOpenOption.TRUNCATE_EXISTING);
        Files.move(next, file, StandardCopyOption.REPLACE_EXISTING,
                StandardCopyOption.ATOMIC_MOVE);
    }
}
