package org.servicefarm.e2e.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The controller and agent jars of the previous release (the commit named in
 * dist/previous-release), built from the repository's own history in a temporary git worktree.
 * The jars are kept under e2e/target/previous-release/COMMIT, so a rerun skips the build.
 */
public final class PreviousRelease {
  private final String commit;
  private final Path jars;
  private double buildSeconds = -1;

  private PreviousRelease(String commit, Path jars) {
    this.commit = commit;
    this.jars = jars;
  }

  /** The previous release's jars, built now unless a former run left them. */
  public static PreviousRelease build() throws IOException, InterruptedException {
    Path root = FarmJars.root();
    String commit = Files.readString(root.resolve("dist/previous-release")).strip();
    if (!commit.matches("[0-9a-f]{40}")) {
      throw new IllegalStateException("dist/previous-release holds '" + commit
          + "', not a full commit hash");
    }
    PreviousRelease release = new PreviousRelease(commit,
        root.resolve("e2e/target/previous-release").resolve(commit));
    if (!Files.isRegularFile(release.controller()) || !Files.isRegularFile(release.agent())) {
      release.buildFrom(root);
    }
    return release;
  }

  public String commit() {
    return commit;
  }

  public Path controller() {
    return jars.resolve("servicefarm-controller.jar");
  }

  public Path agent() {
    return jars.resolve("servicefarm-agent.jar");
  }

  /** How long this run's build took; negative when the jars came from a former run. */
  public double buildSeconds() {
    return buildSeconds;
  }

  private void buildFrom(Path root) throws IOException, InterruptedException {
    long started = System.nanoTime();
    Path scratch = Files.createTempDirectory("servicefarm-previous-release");
    Path source = scratch.resolve("src");
    try {
      run(root, scratch.resolve("git.log"), List.of("git", "worktree", "add", "--detach",
          source.toString(), commit), 120);
      try {
        List<String> mvn = new ArrayList<>(List.of("mvn", "-B", "-q", "-DskipTests",
            "-Dmaven.javadoc.skip", "-pl", "controller,agent", "-am", "package"));
        String repo = System.getProperty("maven.repo.local");
        if (repo != null && !repo.isBlank()) {
          mvn.add("-Dmaven.repo.local=" + repo);
        }
        run(source, scratch.resolve("mvn.log"), mvn, 1800);
        Path staging = Files.createDirectories(jars.resolveSibling(commit + ".partial"));
        Files.copy(source.resolve("controller/target/servicefarm-controller.jar"),
            staging.resolve("servicefarm-controller.jar"), StandardCopyOption.REPLACE_EXISTING);
        Files.copy(source.resolve("agent/target/servicefarm-agent.jar"),
            staging.resolve("servicefarm-agent.jar"), StandardCopyOption.REPLACE_EXISTING);
        // Whole or not at all: a build cut short leaves no jars a rerun would trust.
        Files.move(staging, jars, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        run(root, scratch.resolve("git.log"), List.of("git", "worktree", "remove", "--force",
            source.toString()), 120);
      }
    } finally {
      FarmLeftovers.deleteTree(scratch);
    }
    buildSeconds = (System.nanoTime() - started) / 1e9;
  }

  private static void run(Path dir, Path log, List<String> command, long timeoutSeconds)
      throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException(String.join(" ", command) + " did not finish in " + timeoutSeconds
          + " s");
    }
    if (p.exitValue() != 0) {
      throw new IOException(String.join(" ", command) + " failed (exit " + p.exitValue()
          + "):\n" + Files.readString(log));
    }
  }
}
