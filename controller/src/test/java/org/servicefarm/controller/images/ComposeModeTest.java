package org.servicefarm.controller.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Whether an unprivileged controller can compose images, said at start with the setting to change. */
class ComposeModeTest {
  @TempDir
  Path dir;

  private Path file(String name, String content) throws IOException {
    Path file = dir.resolve(name);
    Files.createDirectories(file.getParent());
    return Files.writeString(file, content);
  }

  @Test
  void aKernelThatForbidsUnprivilegedUserNamespacesIsNamedWithItsSysctl() throws IOException {
    file("sys/kernel/unprivileged_userns_clone", "0\n");
    file("etc/subuid", "servicefarm:100000:65536\n");
    file("etc/subgid", "servicefarm:100000:65536\n");
    Path helper = file("bin/newuidmap", "");
    helper.toFile().setExecutable(true);

    List<String> problems = ComposeMode.problems(dir.resolve("sys"), dir.resolve("etc"),
        "servicefarm", List.of(helper));

    assertEquals(1, problems.size(), problems.toString());
    assertTrue(problems.get(0).contains("sysctl kernel.unprivileged_userns_clone=1"),
        problems.get(0));
  }

  @Test
  void missingSubordinateIdsAndHelpersAreNamedWithTheirFix() throws IOException {
    file("sys/user/max_user_namespaces", "0\n");
    file("etc/subuid", "someoneelse:100000:65536\n");

    List<String> problems = ComposeMode.problems(dir.resolve("sys"), dir.resolve("etc"),
        "servicefarm", List.of(dir.resolve("bin/newuidmap")));

    assertEquals(3, problems.size(), problems.toString());
    assertTrue(problems.get(0).contains("user.max_user_namespaces"), problems.get(0));
    assertTrue(problems.get(1).contains("usermod --add-subuids"), problems.get(1));
    assertTrue(problems.get(2).contains("uidmap"), problems.get(2));
  }

  @Test
  void aHostReadyForUnshareModeHasNoProblems() throws IOException {
    file("sys/kernel/unprivileged_userns_clone", "1\n");
    file("etc/subuid", "servicefarm:100000:65536\n");
    file("etc/subgid", "servicefarm:100000:65536\n");
    Path helper = file("bin/newuidmap", "");
    helper.toFile().setExecutable(true);

    assertEquals(List.of(), ComposeMode.problems(dir.resolve("sys"), dir.resolve("etc"),
        "servicefarm", List.of(helper)));
  }

  @Test
  void mmdebstrapIsToldItsModeExplicitly() {
    List<String> argv = ComposeCommand.bookworm().argv(List.of("nginx"), Path.of("/tmp/rootfs"));
    assertTrue(argv.contains("--mode=" + ComposeMode.forThisProcess().flag()), argv.toString());
  }
}
