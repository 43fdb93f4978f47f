package org.servicefarm.e2e.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A command run to its end, with what it printed; for tests of the release's files. */
public record CommandRun(int exitCode, String out, String err) {

  public static CommandRun of(Path workDir, List<String> command) throws IOException,
      InterruptedException {
    return of(workDir, command, java.time.Duration.ofSeconds(120));
  }

  /** As {@link #of(Path, List)}, waiting up to {@code limit} for the command to end. */
  public static CommandRun of(Path workDir, List<String> command, java.time.Duration limit)
      throws IOException, InterruptedException {
    Path out = Files.createTempFile(workDir, "out", ".txt");
    Path err = Files.createTempFile(workDir, "err", ".txt");
    // Files, not pipes: a command that prints much cannot block on a full pipe buffer.
    ProcessBuilder builder = new ProcessBuilder(command).directory(workDir.toFile())
        .redirectOutput(out.toFile()).redirectError(err.toFile());
    // The daemons read SERVICEFARM_* variables; the test's own environment must not leak in.
    builder.environment().keySet().removeIf(name -> name.startsWith("SERVICEFARM_"));
    Process process = builder.start();
    if (!process.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError(command + " did not end within " + limit.toSeconds() + " s");
    }
    return new CommandRun(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
        Files.readString(err, StandardCharsets.UTF_8));
  }

  public static CommandRun java(Path workDir, Path jar, String... args) throws IOException,
      InterruptedException {
    List<String> command = new java.util.ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
        jar.toString()));
    command.addAll(List.of(args));
    return of(workDir, command);
  }

  public static boolean onPath(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
        return true;
      }
    }
    return false;
  }

  @Override
  public String toString() {
    return "exit " + exitCode + "\n--- stdout\n" + out + "--- stderr\n" + err;
  }
}
