package org.servicefarm.e2e.support;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/** The account the controller's systemd unit runs as, for tests that start a controller as it. */
public final class ControllerAccount {
  public static final String NAME = "servicefarm";

  private ControllerAccount() {}

  /**
   * The account the systemd unit runs the controller as, with subordinate ids: what
   * dist/controller-account.sh and ./farm test set up. Root is needed to start a process as it.
   */
  public static void requireWithSubordinateIds() throws IOException, InterruptedException {
    String missing = null;
    if (!"root".equals(System.getProperty("user.name"))) {
      missing = "only root can start the controller as " + NAME;
    } else if (CommandRun.of(Path.of("/tmp"), List.of("id", NAME)).exitCode() != 0) {
      missing = "there is no account " + NAME;
    } else if (!hasRange(Path.of("/etc/subuid")) || !hasRange(Path.of("/etc/subgid"))) {
      missing = NAME + " has no subordinate ids in /etc/subuid and /etc/subgid";
    } else if (!CommandRun.onPath("debugfs") && !Files.exists(Path.of("/usr/sbin/debugfs"))) {
      missing = "debugfs (e2fsprogs) is not installed";
    }
    if (missing == null) {
      return;
    }
    String reason = "TEST OF A CONTROLLER WITHOUT ROOT NOT RUN: " + missing
        + " (./farm test sets the account up when run as root)";
    if ("true".equals(System.getenv("CI"))) {
      fail(reason + "; CI=true requires it");
    }
    System.err.println(reason);
    Assumptions.assumeTrue(false, reason);
  }

  private static boolean hasRange(Path file) throws IOException {
    return Files.exists(file) && Files.readAllLines(file).stream()
        .anyMatch(line -> line.startsWith(NAME + ":"));
  }
}
