package org.servicefarm.e2e.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** One daemon of the farm running as a real process, its output in a log file. */
public final class FarmProcess implements AutoCloseable {
  // Small heaps and the C1 compiler: the tests start many JVMs on a 2-core machine.
  private static final List<String> JVM_FLAGS =
      List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");

  /**
   * The JVM flags the daemons run with: the small test settings above, unless a benchmark asks
   * for the JVM's own defaults (full JIT, default collector) by setting
   * {@value #PRODUCTION_JVM_PROPERTY}, so that what it measures is what a farm runs.
   */
  static final String PRODUCTION_JVM_PROPERTY = "servicefarm.e2e.productionJvm";

  private static List<String> jvmFlags() {
    return Boolean.getBoolean(PRODUCTION_JVM_PROPERTY) ? List.of("-Xmx1g") : JVM_FLAGS;
  }

  private final String name;
  private final Process process;
  private final Path log;

  private FarmProcess(String name, Process process, Path log) {
    this.name = name;
    this.process = process;
    this.log = log;
  }

  public static FarmProcess start(String name, Path jar, Path logDir, List<String> args) throws IOException {
    return start(name, jar, logDir, args, java.util.Map.of(), List.of());
  }

  /**
   * @param env added to this process's environment
   * @param prefix a command the JVM runs under, e.g. {@code ip netns exec NAME}; empty for none
   */
  public static FarmProcess start(String name, Path jar, Path logDir, List<String> args,
      java.util.Map<String, String> env, List<String> prefix) throws IOException {
    List<String> command = new ArrayList<>(prefix);
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmFlags());
    command.add("-jar");
    command.add(jar.toString());
    command.addAll(args);
    Files.createDirectories(logDir);
    Path log = logDir.resolve(name + ".log");
    ProcessBuilder builder = new ProcessBuilder(command);
    builder.environment().putAll(env);
    Process p = builder
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
        .start();
    return new FarmProcess(name, p, log);
  }

  String name() {
    return name;
  }

  public long pid() {
    return process.pid();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  Path log() {
    return log;
  }

  public String logTail() {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (IOException e) {
      return "(cannot read " + log + ": " + e.getMessage() + ")";
    }
  }

  /** SIGTERM and wait: a clean stop. */
  public void stop() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      kill();
    }
  }

  /** SIGKILL: the process gets no chance to clean up. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(20, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      try {
        stop();
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }
}
