package org.servicefarm.agent.load;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.servicefarm.api.v1.HostLoad;

/**
 * Measures how busy the host is: CPU from the change in /proc/stat since the previous sample,
 * memory from /proc/meminfo, free disk where the agent keeps its VMs. The VM count comes from the
 * caller, who has just asked the hypervisor for the inventory anyway.
 */
public final class HostLoadProbe {

  private static final long MIB = 1024 * 1024;

  private final Path procDir;
  private final Path stateDir;
  private CpuTimes previous; // guarded by this

  /** @param procDir normally /proc; tests pass a directory with prepared files */
  public HostLoadProbe(Path procDir, Path stateDir) {
    this.procDir = procDir;
    this.stateDir = stateDir;
  }

  public static HostLoadProbe forThisHost(Path stateDir) {
    return new HostLoadProbe(Path.of("/proc"), stateDir);
  }

  public synchronized HostLoad sample(int vmCount) throws IOException {
    CpuTimes now = CpuTimes.read(procDir.resolve("stat"));
    // The first sample has no predecessor and so averages over the time since boot.
    CpuTimes since = previous == null ? CpuTimes.ZERO : previous;
    previous = now;
    MemInfo memory = MemInfo.read(procDir.resolve("meminfo"));
    return HostLoad.newBuilder()
        .setCpuPercent(now.busyPercentSince(since))
        .setMemoryTotalMb(memory.totalKb() / 1024)
        .setMemoryUsedMb((memory.totalKb() - memory.availableKb()) / 1024)
        .setVmCount(vmCount)
        .setDiskFreeMb(fileStore().getUsableSpace() / MIB)
        .build();
  }

  /** Total memory per /proc/meminfo, in MiB. */
  public long memoryTotalMb() throws IOException {
    return MemInfo.read(procDir.resolve("meminfo")).totalKb() / 1024;
  }

  /** Size of the file system holding the state dir, in MiB. */
  public long diskTotalMb() throws IOException {
    return fileStore().getTotalSpace() / MIB;
  }

  /** The state dir's file system; before the dir exists, that of its nearest existing parent. */
  private FileStore fileStore() throws IOException {
    Path dir = stateDir.toAbsolutePath();
    while (!Files.exists(dir) && dir.getParent() != null) {
      dir = dir.getParent();
    }
    return Files.getFileStore(dir);
  }

  /** The aggregate "cpu" line of /proc/stat, in clock ticks. */
  record CpuTimes(long busy, long total) {

    static final CpuTimes ZERO = new CpuTimes(0, 0);

    static CpuTimes read(Path stat) throws IOException {
      for (String line : Files.readAllLines(stat)) {
        if (line.startsWith("cpu ")) {
          String[] fields = line.trim().split("\\s+");
          // user nice system idle iowait irq softirq steal; guest time is already inside user.
          long total = 0;
          for (int i = 1; i <= 8 && i < fields.length; i++) {
            total += Long.parseLong(fields[i]);
          }
          long iowait = fields.length > 5 ? Long.parseLong(fields[5]) : 0;
          long idle = Long.parseLong(fields[4]) + iowait;
          return new CpuTimes(total - idle, total);
        }
      }
      throw new IOException(stat + " has no aggregate cpu line");
    }

    double busyPercentSince(CpuTimes earlier) {
      long totalDelta = total - earlier.total;
      if (totalDelta <= 0) {
        return 0;
      }
      double percent = 100.0 * (busy - earlier.busy) / totalDelta;
      return Math.max(0, Math.min(100, percent));
    }
  }

  record MemInfo(long totalKb, long availableKb) {

    static MemInfo read(Path meminfo) throws IOException {
      List<String> lines = Files.readAllLines(meminfo);
      return new MemInfo(
          field(lines, "MemTotal:", meminfo), field(lines, "MemAvailable:", meminfo));
    }

    private static long field(List<String> lines, String name, Path file) throws IOException {
      for (String line : lines) {
        if (line.startsWith(name)) {
          return Long.parseLong(line.substring(name.length()).trim().split("\\s+")[0]);
        }
      }
      throw new IOException(file + " has no " + name + " line");
    }
  }
}
