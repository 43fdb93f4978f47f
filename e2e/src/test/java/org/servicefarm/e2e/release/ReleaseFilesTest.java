package org.servicefarm.e2e.release;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.e2e.support.CommandRun;
import org.servicefarm.e2e.support.FarmJars;

/** dist/'s example configs and systemd units, read by the real daemons and by systemd. */
class ReleaseFilesTest {
  private static final Pattern COMMENTED_SETTING = Pattern.compile("^#([a-z][a-z0-9-]*) = (.+)$");

  @TempDir Path dir;

  @Test
  void controllerExampleConfigIsAcceptedWithEveryKeyRecognised() throws Exception {
    assertEveryKeyIsRead(FarmJars.controller(), "controller.conf");
  }

  @Test
  void agentExampleConfigIsAcceptedWithEveryKeyRecognised() throws Exception {
    assertEveryKeyIsRead(FarmJars.agent(), "agent.conf");
  }

  /**
   * The example as shipped must be accepted; with every commented-out setting switched on, each
   * must also be a key the daemon knows and takes the value of.
   */
  private void assertEveryKeyIsRead(Path jar, String name) throws Exception {
    Path shipped = FarmJars.root().resolve("dist/config").resolve(name);
    CommandRun asShipped = CommandRun.java(dir, jar, "--config", shipped.toString(),
        "--print-config");
    assertEquals(0, asShipped.exitCode(), asShipped.toString());

    List<String> lines = new ArrayList<>();
    List<String> expected = new ArrayList<>();
    Path everything = dir.resolve(name);
    for (String line : Files.readAllLines(shipped)) {
      Matcher commented = COMMENTED_SETTING.matcher(line);
      String setting = commented.matches() ? commented.group(1) + " = " + commented.group(2)
          : line;
      lines.add(setting);
      if (!setting.startsWith("#") && !setting.isBlank()) {
        expected.add("# from " + everything + ":" + lines.size() + "\n" + setting + "\n");
      }
    }
    Files.write(everything, lines);
    CommandRun all = CommandRun.java(dir, jar, "--config", everything.toString(),
        "--print-config");
    assertEquals(0, all.exitCode(), all.toString());
    assertTrue(expected.size() >= 8, "too few settings in " + shipped + ": " + expected);
    for (String setting : expected) {
      assertTrue(all.out().contains(setting), "expected\n" + setting + "in\n" + all);
    }
  }

  @Test
  void unitsRunTheInstalledJarsWithTheirConfigFiles() throws IOException {
    for (String daemon : List.of("controller", "agent")) {
      String unit = Files.readString(unit(daemon));
      assertTrue(unit.contains("\nExecStart=/usr/bin/java -jar /opt/servicefarm/servicefarm-"
          + daemon + ".jar --config /etc/servicefarm/" + daemon + ".conf\n"), unit);
      assertTrue(unit.contains("\nRestart=on-failure\n"), unit);
      assertTrue(unit.contains("\nStateDirectory=servicefarm/" + daemon + "\n"), unit);
    }
    assertTrue(Files.readString(unit("agent")).contains("After=network-online.target"
        + " libvirtd.service"));
  }

  @Test
  void systemdAcceptsTheUnits() throws Exception {
    if (!CommandRun.onPath("systemd-analyze")) {
      String why = "systemd-analyze not installed (./farm test installs it; Debian: apt-get"
          + " install systemd)";
      assertNotEquals("true", System.getenv("CI"), why + ", and CI must run this check");
      System.err.println("WARNING: " + why + ": SKIPPED");
      Assumptions.abort(why + ": SKIPPED");
    }
    CommandRun verify = CommandRun.of(dir, List.of("systemd-analyze", "verify",
        unit("controller").toString(), unit("agent").toString(), unit("gateway").toString()));
    assertEquals(0, verify.exitCode(), verify.toString());
    assertEquals("", verify.err(), verify.toString());
  }

  private static Path unit(String daemon) {
    return FarmJars.root().resolve("dist/systemd/servicefarm-" + daemon + ".service");
  }
}
