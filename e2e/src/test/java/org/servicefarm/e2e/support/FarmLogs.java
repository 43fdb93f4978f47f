package org.servicefarm.e2e.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads the phase timings the daemons log, for benchmarks that split an operation by phase. */
public final class FarmLogs {
  private static final Pattern BUILT = Pattern.compile("built image \\S+ in ([\\d.]+) s: compose "
      + "([\\d.]+) s, filesystem ([\\d.]+) s, convert ([\\d.]+) s, store ([\\d.]+) s");
  private static final Pattern HOP = Pattern.compile("([A-Za-z ]+) \\+(-?[\\d.]+) ms");
  private static final Pattern CACHED = Pattern.compile("cached image .* in (\\d+) ms");

  private FarmLogs() {}

  /** The newest image build: total, compose, filesystem, convert, store. */
  public static List<Duration> lastBuild(Path controllerLog) throws IOException {
    Matcher last = null;
    for (String line : Files.readAllLines(controllerLog)) {
      Matcher m = BUILT.matcher(line);
      if (m.find()) {
        last = m;
      }
    }
    if (last == null) {
      throw new AssertionError("no image build in " + controllerLog);
    }
    Matcher m = last;
    return List.of(1, 2, 3, 4, 5).stream().map(i -> seconds(m.group(i))).toList();
  }

  /** Time the agent spent fetching blobs into its cache, over lines after skipLines. */
  public static Duration transfers(Path agentLog, int skipLines) throws IOException {
    List<String> lines = Files.readAllLines(agentLog);
    long millis = 0;
    for (String line : lines.subList(Math.min(skipLines, lines.size()), lines.size())) {
      Matcher m = CACHED.matcher(line);
      if (m.find()) {
        millis += Long.parseLong(m.group(1));
      }
    }
    return Duration.ofMillis(millis);
  }

  /** How long the newest "command …: ACTION vm VMID" took, as the agent logged it. */
  public static Duration command(Path agentLog, String action, String vmId) throws IOException {
    Pattern p = Pattern.compile(": " + action + " vm " + vmId + " generation \\d+: ok.* \\((\\d+) ms\\)");
    Duration found = null;
    for (String line : Files.readAllLines(agentLog)) {
      Matcher m = p.matcher(line);
      if (m.find()) {
        found = Duration.ofMillis(Long.parseLong(m.group(1)));
      }
    }
    if (found == null) {
      throw new AssertionError("no successful " + action + " of " + vmId + " in " + agentLog);
    }
    return found;
  }

  /**
   * The hops of the newest wake of the VM the controller logged ("wake timeline of VM …"): each
   * hop's name and its time from the request, in the order they happened.
   */
  public static Map<String, Duration> wakeTimeline(Path controllerLog, String vmId)
      throws IOException {
    String marker = "wake timeline of VM " + vmId + ": ";
    String found = null;
    for (String line : Files.readAllLines(controllerLog)) {
      int at = line.indexOf(marker);
      if (at >= 0) {
        found = line.substring(at + marker.length());
      }
    }
    if (found == null) {
      throw new AssertionError("no wake timeline of VM " + vmId + " in " + controllerLog);
    }
    Map<String, Duration> hops = new LinkedHashMap<>();
    Matcher m = HOP.matcher(found);
    while (m.find()) {
      hops.put(m.group(1).trim(), Duration.ofNanos(Math.round(Double.parseDouble(m.group(2)) * 1e6)));
    }
    return hops;
  }

  public static int lineCount(Path log) throws IOException {
    return Files.exists(log) ? Files.readAllLines(log).size() : 0;
  }

  private static Duration seconds(String value) {
    return Duration.ofMillis(Math.round(Double.parseDouble(value) * 1000));
  }
}
