package org.servicefarm.agent.load;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.api.v1.HostLoad;

class HostLoadProbeTest {

  @TempDir
  Path dir;

  private void writeProc(long busy, long idle) throws Exception {
    Files.createDirectories(dir.resolve("proc"));
    // user nice system idle iowait irq softirq steal guest guest_nice
    Files.writeString(dir.resolve("proc/stat"), "cpu  " + busy + " 0 0 " + idle
        + " 0 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1 2 3\n");
    Files.writeString(dir.resolve("proc/meminfo"),
        "MemTotal:        8388608 kB\nMemFree:         1000000 kB\nMemAvailable:    6291456 kB\n");
  }

  @Test
  void cpuPercentComesFromTheChangeSinceThePreviousSample() throws Exception {
    var probe = new HostLoadProbe(dir.resolve("proc"), dir);
    writeProc(100, 900);
    assertEquals(10.0, probe.sample(0).getCpuPercent(), 0.001, "since boot");
    writeProc(400, 1000); // +300 busy, +100 idle
    assertEquals(75.0, probe.sample(0).getCpuPercent(), 0.001);
  }

  @Test
  void memoryVmCountAndDiskAreReported() throws Exception {
    writeProc(1, 1);
    HostLoad load = new HostLoadProbe(dir.resolve("proc"), dir.resolve("not-yet-created"))
        .sample(3);
    assertEquals(8192, load.getMemoryTotalMb());
    assertEquals(2048, load.getMemoryUsedMb());
    assertEquals(3, load.getVmCount());
    assertTrue(load.getDiskFreeMb() > 0, "disk free of the state dir's file system");
  }

  @Test
  void realProcGivesPlausibleFigures() throws Exception {
    HostLoad load = HostLoadProbe.forThisHost(dir).sample(0);
    assertTrue(load.getCpuPercent() >= 0 && load.getCpuPercent() <= 100, load.toString());
    assertTrue(load.getMemoryUsedMb() > 0 && load.getMemoryUsedMb() < load.getMemoryTotalMb(),
        load.toString());
  }
}
