package org.servicefarm.controller.db.embedded;

import java.io.IOException;
import java.lang.ProcessBuilder.Redirect;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * The operating-system account PostgreSQL runs under. initdb and postgres refuse to run as root,
 * so when the controller is root the server runs as an unprivileged user through {@code runuser};
 * otherwise it runs as the controller's own user and nothing here changes a command.
 */
final class ServerAccount {

    private static final Logger LOG = Logger.getLogger(ServerAccount.class.getName());

    static final String PREFERRED_USER = "servicefarm";
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);
    private static final Path WORK_DIR = Path.of("/");

    /** The user to switch to, or empty when the controller is not root and runs it directly. */
    private final Optional<String> switchTo;
    private final Path runuser;

    private ServerAccount(Optional<String> switchTo, Path runuser) {
        this.switchTo = switchTo;
        this.runuser = runuser;
    }

    /**
     * The account for a server started by this JVM. When root, picks {@value #PREFERRED_USER}
     * (creating it with useradd when missing); output of useradd goes to {@code commandLog}.
     */
    static ServerAccount forThisProcess(Path commandLog) throws IOException {
        if (!runsAsRoot()) {
            return new ServerAccount(Optional.empty(), null);
        }
        Path runuser = firstExecutable("/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser")
                .orElseThrow(() -> new IOException("the controller runs as root, and PostgreSQL"
                        + " refuses to; install runuser (util-linux) so it can run as an"
                        + " unprivileged user, or run the controller as a normal user"));
        String user = unprivilegedUser(commandLog);
        LOG.info(() -> "running PostgreSQL as user " + user
                + " because the controller runs as root and PostgreSQL refuses to");
        return new ServerAccount(Optional.of(user), runuser);
    }

    boolean switchesUser() {
        return switchTo.isPresent();
    }

    /** Name of the account the server runs as. */
    String name() {
        return switchTo.orElse(System.getProperty("user.name"));
    }

    /** {@code command} as it must be started to run under this account. */
    List<String> command(List<String> command) {
        if (switchTo.isEmpty()) {
            return command;
        }
        List<String> wrapped = new ArrayList<>(List.of(runuser.toString(), "-u", switchTo.get(), "--"));
        wrapped.addAll(command);
        return wrapped;
    }

    /** Gives the server's account ownership of a directory tree it must write (data, socket). */
    void takeOwnership(Path root) throws IOException {
        if (switchTo.isEmpty()) {
            return;
        }
        UserPrincipal owner = root.getFileSystem().getUserPrincipalLookupService()
                .lookupPrincipalByName(switchTo.get());
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : (Iterable<Path>) paths::iterator) {
                // lchown: a symlink inside the data dir must not hand its target to the server.
                PosixFileAttributeView view = Files.getFileAttributeView(
                        path, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
                if (!view.getOwner().equals(owner)) {
                    view.setOwner(owner);
                }
            }
        }
    }

    /**
     * Fails with a message naming the culprit if the server's account cannot run the binaries or
     * write its directories, typically because a parent directory such as /root is mode 0700.
     */
    void requireAccess(Path executable, List<Path> writableDirs) throws IOException {
        if (switchTo.isEmpty()) {
            return;
        }
        requireTest("-x", executable, "run");
        for (Path dir : writableDirs) {
            requireTest("-w", dir, "write to");
        }
    }

    private void requireTest(String flag, Path path, String verb) throws IOException {
        if (passes(flag, path)) {
            return;
        }
        String user = switchTo.orElseThrow();
        for (Path ancestor = path.getRoot(); ancestor != null && !ancestor.equals(path); ) {
            if (!passes("-x", ancestor)) {
                throw new IOException("PostgreSQL runs as user " + user + ", which cannot " + verb
                        + " " + path + " because it may not enter " + ancestor
                        + "; put the data directory where other users can reach it (e.g. under"
                        + " /var/lib) or run the controller as a normal user");
            }
            ancestor = ancestor.resolve(path.getName(ancestor.getNameCount()));
        }
        throw new IOException("PostgreSQL runs as user " + user + ", which cannot " + verb + " "
                + path);
    }

    private boolean passes(String flag, Path path) throws IOException {
        return ChildProcesses.run(command(List.of("test", flag, path.toString())), WORK_DIR,
                Redirect.DISCARD, COMMAND_TIMEOUT) == 0;
    }

    /** Effective uid from /proc, which needs no child process and cannot be spoofed by env. */
    static boolean runsAsRoot() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Uid:")) {
                String[] ids = line.substring("Uid:".length()).trim().split("\\s+");
                return ids[1].equals("0");
            }
        }
        throw new IOException("/proc/self/status has no Uid line");
    }

    /**
     * Only {@value #PREFERRED_USER}, created when missing: the server's account owns the farm's
     * data, so it must be an account of its own, never one shared with other daemons such as
     * {@code nobody}.
     */
    private static String unprivilegedUser(Path commandLog) throws IOException {
        if (userExists(PREFERRED_USER)) {
            return PREFERRED_USER;
        }
        Optional<Path> useradd = firstExecutable("/usr/sbin/useradd", "/sbin/useradd");
        if (useradd.isPresent()) {
            List<String> create = List.of(useradd.get().toString(), "--system", "--no-create-home",
                    "--shell", "/usr/sbin/nologin", PREFERRED_USER);
            int exit = ChildProcesses.run(create, WORK_DIR, Redirect.appendTo(commandLog.toFile()),
                    COMMAND_TIMEOUT);
            // A non-zero exit may just mean another JVM created the user a moment earlier.
            if (exit == 0 || userExists(PREFERRED_USER)) {
                LOG.info(() -> "created system user " + PREFERRED_USER + " to run PostgreSQL");
                return PREFERRED_USER;
            }
        }
        throw new IOException("the controller runs as root and PostgreSQL refuses to, but user "
                + PREFERRED_USER + " does not exist and could not be created (see " + commandLog
                + "); create it (useradd --system " + PREFERRED_USER + ")");
    }

    private static boolean userExists(String user) throws IOException {
        return ChildProcesses.run(List.of("id", "-u", user), WORK_DIR, Redirect.DISCARD,
                COMMAND_TIMEOUT) == 0;
    }

    private static Optional<Path> firstExecutable(String... candidates) {
        return Stream.of(candidates).map(Path::of).filter(Files::isExecutable).findFirst();
    }
}
