package org.servicefarm.controller.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The build's tools, apt and packages' maintainer scripts see none of the controller's secrets. */
class ToolEnvironmentTest {
  @TempDir
  Path dir;

  @Test
  void theDatabasePasswordAndOtherVariablesStayWithTheController() {
    Map<String, String> env = ToolRunner.environment(Map.of(
        "SERVICEFARM_DB_PASSWORD", "hunter2", "FARM_TOKEN", "sf_x", "AWS_SECRET_ACCESS_KEY", "k",
        "http_proxy", "http://proxy:3128", "PATH", "/home/op/bin"), dir);

    assertFalse(env.containsValue("hunter2"), env.toString());
    assertEquals(Set.of("PATH", "LC_ALL", "HOME", "TMPDIR", "http_proxy"), env.keySet());
    assertEquals("http://proxy:3128", env.get("http_proxy"));
    assertTrue(env.get("PATH").contains("/usr/sbin"), "mkfs.ext4 and ldconfig live there");
    assertEquals(dir.toString(), env.get("HOME"));
  }

  @Test
  void aToolRunSeesOnlyTheMinimalEnvironment() throws Exception {
    Path log = dir.resolve("build.log");
    new ToolRunner(dir, log).run("env", List.of("env"), Duration.ofSeconds(30));

    Set<String> seen = Files.readAllLines(log).stream().filter(l -> !l.startsWith("== "))
        .map(l -> l.substring(0, l.indexOf('='))).collect(Collectors.toSet());
    assertEquals(ToolRunner.environment(System.getenv(), dir).keySet(), seen);
  }
}
