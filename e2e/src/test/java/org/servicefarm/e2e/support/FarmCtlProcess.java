package org.servicefarm.e2e.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The built farmctl.jar, run as a user runs it: a JVM per command, against one farm. */
public final class FarmCtlProcess {
  private static final long TIMEOUT_SECONDS = 150;

  private final String target;
  private final Path tokenFile;
  private final Path workDir;

  /** What one farmctl run left behind. */
  public record Run(List<String> args, int exitCode, String out, String err) {
    /** For assertion messages: the command and what it printed. */
    public String describe() {
      return "farmctl " + String.join(" ", args) + " exited " + exitCode
          + "\n--- stdout ---\n" + out + "--- stderr ---\n" + err;
    }

    public List<String> lines() {
      return out.lines().toList();
    }
  }

  public FarmCtlProcess(String target, Path tokenFile, Path workDir) {
    this.target = target;
    this.tokenFile = tokenFile;
    this.workDir = workDir;
  }

  public Run run(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-jar", FarmJars.farmctl().toString(),
        "--target", target, "--token-file", tokenFile.toString()));
    command.addAll(List.of(args));
    Files.createDirectories(workDir);
    // Files, not pipes: a chatty command cannot block on a full pipe while we wait for it.
    Path out = Files.createTempFile(workDir, "farmctl", ".out");
    Path err = Files.createTempFile(workDir, "farmctl", ".err");
    Process process = new ProcessBuilder(command)
        .redirectOutput(out.toFile())
        .redirectError(err.toFile())
        .start();
    if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
      throw new AssertionError("farmctl " + String.join(" ", args) + " still ran after "
          + TIMEOUT_SECONDS + " s");
    }
    return new Run(List.of(args), process.exitValue(),
        Files.readString(out, StandardCharsets.UTF_8),
        Files.readString(err, StandardCharsets.UTF_8));
  }
}
