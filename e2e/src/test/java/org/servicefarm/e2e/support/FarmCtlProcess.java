package org.servicefarm.e2e.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The built farmctl.jar, run as a user runs it: a JVM per command, against one farm; directly
 * (java -jar) or through its launcher, cli/farmctl.
 */
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
        "-jar", FarmJars.farmctl().toString()));
    return run(command, Map.of(), args);
  }

  /**
   * farmctl through its launcher (cli/farmctl, as ./farm ctl and the release run it) on this
   * test's JVM, keeping its class-data archive in cacheDir.
   */
  public Run runLauncher(Path cacheDir, String... args) throws IOException, InterruptedException {
    return run(List.of(FarmJars.farmctlLauncher().toString()), Map.of(
        "JAVA_HOME", System.getProperty("java.home"),
        "FARMCTL_CACHE_DIR", cacheDir.toString()), args);
  }

  private Run run(List<String> program, Map<String, String> env, String... args)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(program);
    command.addAll(List.of("--target", target, "--token-file", tokenFile.toString()));
    command.addAll(List.of(args));
    Files.createDirectories(workDir);
    // Files, not pipes: a chatty command cannot block on a full pipe while we wait for it.
    Path out = Files.createTempFile(workDir, "farmctl", ".out");
    Path err = Files.createTempFile(workDir, "farmctl", ".err");
    ProcessBuilder builder = new ProcessBuilder(command);
    builder.environment().putAll(env);
    Process process = builder
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
