package org.servicefarm.controller.images;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * Runs the build's external tools (mmdebstrap, mkfs.ext4, qemu-img): an argument list, never a
 * shell line; a bounded time; standard output appended to the build's log and standard error kept
 * apart too, so a failure can say what the tool said last.
 */
final class ToolRunner {
  static final int TAIL_LINES = 15;
  private static final String SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin";
  /** Proxy settings, which apt honours; an operator behind a proxy cannot compose without them. */
  static final List<String> PASSED_ON =
      List.of("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY");

  /** A tool that failed, timed out or could not start; the message ends with its last words. */
  static final class ToolFailure extends Exception {
    private static final long serialVersionUID = 1L;

    ToolFailure(String message) {
      super(message);
    }

    ToolFailure(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private final Path log;
  private final Path workDir;

  /** Tools run in {@code workDir}; their output accumulates in {@code log}. */
  ToolRunner(Path workDir, Path log) {
    this.workDir = workDir;
    this.log = log;
  }

  void run(String step, List<String> argv, Duration timeout)
      throws ToolFailure, IOException, InterruptedException {
    run(step, argv, timeout, ProcessBuilder.Redirect.appendTo(log.toFile()));
  }

  /** As {@link #run}, with the tool's standard output in {@code output} instead of the log. */
  void runCapturing(String step, List<String> argv, Duration timeout, Path output)
      throws ToolFailure, IOException, InterruptedException {
    run(step, argv, timeout, ProcessBuilder.Redirect.to(output.toFile()));
  }

  private void run(String step, List<String> argv, Duration timeout,
      ProcessBuilder.Redirect stdout) throws ToolFailure, IOException, InterruptedException {
    Path stderr = workDir.resolve(step + ".stderr");
    appendToLog("== " + step + ": " + String.join(" ", argv) + "\n");
    List<String> command = new ArrayList<>(argv);
    command.set(0, locate(argv.get(0)));
    ProcessBuilder builder = new ProcessBuilder(command);
    Map<String, String> environment = builder.environment();
    Map<String, String> minimal = environment(System.getenv(), workDir);
    environment.clear();
    environment.putAll(minimal);
    Process process;
    try {
      process = builder
          .directory(workDir.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
          .redirectOutput(stdout)
          .redirectError(stderr.toFile())
          .start();
    } catch (IOException e) {
      throw new ToolFailure(step + ": cannot start " + argv.get(0) + " (" + e.getMessage() + ")",
          e);
    }
    boolean exited;
    try {
      exited = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      kill(process);
      throw e;
    }
    if (!exited) {
      kill(process);
    }
    String errors = Files.exists(stderr) ? Files.readString(stderr, StandardCharsets.UTF_8) : "";
    appendToLog(errors.isEmpty() ? "" : "-- " + step + " stderr:\n" + errors);
    if (!exited) {
      throw new ToolFailure(step + ": " + argv.get(0) + " did not finish within " + timeout
          + tail(errors));
    }
    if (process.exitValue() != 0) {
      throw new ToolFailure(step + ": " + argv.get(0) + " exited with status "
          + process.exitValue() + tail(errors));
    }
  }

  /**
   * What the tools (and apt, dpkg and the packages' maintainer scripts they run) see of the
   * controller's environment: a fixed PATH that includes the sbin directories their helpers
   * (ldconfig, mke2fs's) live in, a plain locale, the build directory as home and for temporary
   * files, and the proxy settings apt needs to reach a mirror. Nothing else: the controller's
   * environment holds secrets (SERVICEFARM_DB_PASSWORD), and a maintainer script is code from a
   * package.
   */
  static Map<String, String> environment(Map<String, String> controllers, Path workDir) {
    Map<String, String> env = new TreeMap<>();
    env.put("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    env.put("LC_ALL", "C.UTF-8");
    env.put("HOME", workDir.toString());
    env.put("TMPDIR", workDir.toString());
    for (String proxy : PASSED_ON) {
      String value = controllers.get(proxy);
      if (value != null) {
        env.put(proxy, value);
      }
    }
    return env;
  }

  /**
   * The tool's file: searched in PATH and then the sbin directories, because mkfs.ext4 lives in
   * /usr/sbin, which a service's PATH does not always list (and Java looks a program up in the
   * controller's PATH, not the child's).
   */
  static String locate(String tool) throws ToolFailure {
    if (tool.contains("/")) {
      return tool;
    }
    String path = System.getenv().getOrDefault("PATH", "") + ":" + SBIN_PATH;
    for (String dir : path.split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
        return Path.of(dir, tool).toString();
      }
    }
    throw new ToolFailure(tool + " is not installed (looked in " + path + ")");
  }

  /** The last lines a tool wrote to standard error, as they end a failure's message. */
  static String tail(String output) {
    List<String> lines = output.lines().filter(l -> !l.isBlank()).toList();
    if (lines.isEmpty()) {
      return "";
    }
    return ":\n" + String.join("\n", lines.subList(Math.max(0, lines.size() - TAIL_LINES),
        lines.size()));
  }

  // mmdebstrap starts apt and dpkg; stopping only the parent would leave them writing.
  private static void kill(Process process) throws InterruptedException {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  private void appendToLog(String text) throws IOException {
    Files.writeString(log, text, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
        StandardOpenOption.APPEND);
  }
}
