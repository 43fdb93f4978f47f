package org.servicefarm.controller.auth;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * Gives a new farm its first admin: when no admin token is live, a token named
 * {@value #NAME} is created and its secret written to {@code <data-dir>/admin.token}, readable by
 * the controller's user only. The secret is never logged; the file's path is.
 */
public final class AdminTokenBootstrap {
  private static final Logger LOG = Logger.getLogger(AdminTokenBootstrap.class.getName());
  public static final String NAME = "bootstrap-admin";
  public static final String FILE_NAME = "admin.token";

  private AdminTokenBootstrap() {}

  /**
   * Creates the bootstrap admin token when no admin token is live.
   *
   * @return the file the new token was written to; empty when an admin token existed
   */
  public static Optional<Path> ensureAdmin(TokenRegistry registry, Path dataDir)
      throws IOException {
    Path file = dataDir.resolve(FILE_NAME);
    Optional<TokenRegistry.Issued> issued = registry.createAdminIfNone(NAME);
    if (issued.isEmpty()) {
      LOG.info("an admin token is live; " + (Files.exists(file)
          ? "the bootstrap admin token (if not revoked) is in " + file
          : "no new one is written to " + file));
      return Optional.empty();
    }
    writePrivately(file, issued.get().secret() + "\n");
    LOG.info("created admin token '" + NAME + "'; its secret is in " + file
        + " (readable by this user only)");
    return Optional.of(file);
  }

  // Written beside the target with mode 0600 from the start, then moved over it, so the secret is
  // never readable by others and a reader never sees half a token.
  private static void writePrivately(Path file, String content) throws IOException {
    Files.createDirectories(file.getParent());
    Path temp = Files.createTempFile(file.getParent(), FILE_NAME, ".tmp",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    try {
      Files.writeString(temp, content, StandardCharsets.US_ASCII);
      Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(temp);
    }
  }
}
