package org.servicefarm.e2e.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What a process costs, read from /proc and from the JVM's own diagnostics (jcmd). */
public final class ProcessFigures {
  // USER_HZ: the unit of /proc/PID/stat's times, 100 on every Linux this runs on.
  private static final double TICKS_PER_SECOND = 100.0;
  private static final Pattern HEAP_USED = Pattern.compile("total \\d+K, used (\\d+)K");

  private ProcessFigures() {}

  /** User plus system CPU time the process has used so far, in seconds. */
  public static double cpuSeconds(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis don't.
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / TICKS_PER_SECOND;
  }

  /** Resident set size in MiB. */
  public static double rssMib(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
      }
    }
    throw new IOException("no VmRSS in /proc/" + pid + "/status");
  }

  /** Java heap in use right after a full collection, in MiB (jcmd GC.run, then GC.heap_info). */
  public static double heapAfterGcMib(long pid) throws IOException, InterruptedException {
    jcmd(pid, "GC.run");
    String info = jcmd(pid, "GC.heap_info");
    // One line per generation (young and old with the serial collector): the heap is their sum.
    Matcher m = HEAP_USED.matcher(info);
    long usedKib = 0;
    int generations = 0;
    while (m.find()) {
      usedKib += Long.parseLong(m.group(1));
      generations++;
    }
    if (generations == 0) {
      throw new IOException("no heap figure in jcmd GC.heap_info:\n" + info);
    }
    return usedKib / 1024.0;
  }

  private static String jcmd(long pid, String command) throws IOException, InterruptedException {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), command)
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("jcmd " + pid + " " + command + " failed:\n" + out);
    }
    return out;
  }
}
