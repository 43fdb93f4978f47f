package org.servicefarm.e2e.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.servicefarm.e2e.support.BenchmarkTable;
import org.servicefarm.e2e.support.FarmCtlProcess;
import org.servicefarm.e2e.support.FarmJars;
import org.servicefarm.e2e.support.ProcessFarm;

/**
 * How long one farmctl call takes from the shell's point of view (a JVM per call) against a
 * running farm of real processes (a controller and one agent on libvirt's test driver, as
 * ./farm dev runs them without libvirtd): --help, services, vms and request of a running
 * service, each through `java -jar farmctl.jar` and through the launcher cli/farmctl (C1 only,
 * serial collector, class-data archive). Calls alternate between the two, so both see the same
 * load. Not a test of behaviour: it prints figures (./farm bench Farmctl runs it; calls per
 * command with -Dbench.calls=N, default 10).
 */
class FarmctlStartBenchmark {
  private static final String SERVICE = "bench-web";
  private static final int CALLS = Integer.getInteger("bench.calls", 10);
  private static final List<List<String>> COMMANDS = List.of(
      List.of("--help"), List.of("services"), List.of("vms"), List.of("request", SERVICE));

  @Test
  void farmctlCalls() throws Exception {
    try (ProcessFarm farm = new ProcessFarm("test:///default")) {
      farm.startController();
      farm.startAgent("h1");
      farm.awaitConnected(List.of("h1"));
      FarmCtlProcess setup = new FarmCtlProcess(farm.target(), farm.adminTokenFile(),
          farm.dir().resolve("ctl"));
      assertEquals(0, setup.run("service", "define", SERVICE, "--packages", "busybox",
          "--port", "80", "--command", "busybox httpd -f -p 80").exitCode());
      assertEquals(0, setup.run("request", SERVICE, "--lease-ttl", "3600").exitCode());

      Path cache = farm.dir().resolve("farmctl-cache");
      Map<String, List<String>> ways = new LinkedHashMap<>();
      ways.put("java -jar farmctl.jar", List.of(
          Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-jar", FarmJars.farmctl().toString()));
      ways.put("cli/farmctl (launcher)", List.of(FarmJars.farmctlLauncher().toString()));
      List<String> farmArgs = List.of("--target", farm.target(),
          "--token-file", farm.adminTokenFile().toString());
      Map<String, String> env = Map.of("JAVA_HOME", System.getProperty("java.home"),
          "FARMCTL_CACHE_DIR", cache.toString());

      // The launcher's first call writes its class-data archive; users pay that once.
      call(ways.get("cli/farmctl (launcher)"), farmArgs, List.of("services"), env, farm.dir());

      String loadBefore = loadAverage();
      Map<String, List<Duration>> samples = new LinkedHashMap<>();
      for (int i = 0; i < CALLS; i++) {
        for (List<String> command : COMMANDS) {
          for (var way : ways.entrySet()) {
            samples.computeIfAbsent(String.join(" ", command) + "|" + way.getKey(),
                k -> new ArrayList<>())
                .add(call(way.getValue(), farmArgs, command, env, farm.dir()));
          }
        }
      }

      BenchmarkTable table = new BenchmarkTable("farmctl calls against a running farm",
          "command", "run as", "median", "p90", "calls");
      samples.forEach((key, durations) -> {
        String[] parts = key.split("\\|");
        table.row("farmctl " + parts[0], parts[1], millis(BenchmarkTable.median(durations)),
            millis(p90(durations)), durations.size());
      });
      table.note("Wall time of the whole process, as a shell sees it. Load average (1, 5, 15"
          + " min) before: " + loadBefore + "; after: " + loadAverage() + ".");
      table.publish("farmctl.md");
    }
  }

  private static Duration call(List<String> program, List<String> farmArgs,
      List<String> command, Map<String, String> env, Path dir) throws Exception {
    List<String> argv = new ArrayList<>(program);
    argv.addAll(farmArgs);
    argv.addAll(command);
    ProcessBuilder builder = new ProcessBuilder(argv)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(dir.resolve("farmctl-bench.err").toFile());
    builder.environment().putAll(env);
    long start = System.nanoTime();
    Process process = builder.start();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
      throw new AssertionError(argv + " still ran after 60 s");
    }
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    assertEquals(0, process.exitValue(), argv + " failed: "
        + Files.readString(dir.resolve("farmctl-bench.err"), StandardCharsets.UTF_8));
    return took;
  }

  private static Duration p90(List<Duration> samples) {
    List<Duration> sorted = samples.stream().sorted().toList();
    return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(sorted.size() * 0.9) - 1));
  }

  private static String millis(Duration d) {
    return d.toMillis() + " ms";
  }

  private static String loadAverage() throws Exception {
    String[] fields = Files.readString(Path.of("/proc/loadavg")).split(" ");
    return fields[0] + ", " + fields[1] + ", " + fields[2];
  }
}
