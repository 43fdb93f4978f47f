package org.servicefarm.controller.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BuildDirectoryTest {
  @TempDir
  Path tmp;

  @Test
  void removingABuildNeverFollowsItsSymlinksOutOfIt() throws IOException {
    Path outside = Files.createDirectories(tmp.resolve("host-etc"));
    Files.writeString(outside.resolve("passwd"), "root:x:0:0");
    Path build = Files.createDirectories(tmp.resolve("build/abc/rootfs/etc"));
    // A root file system is full of absolute symlinks that name the host's files from outside.
    Files.createSymbolicLink(build.resolve("alternatives"), outside);
    Files.createSymbolicLink(build.resolve("passwd"), outside.resolve("passwd"));

    BuildDirectory.remove(tmp.resolve("build/abc"));

    assertFalse(Files.exists(tmp.resolve("build/abc")));
    assertEquals("root:x:0:0", Files.readString(outside.resolve("passwd")));
  }

  @Test
  void aMissingDirectoryIsAlreadyRemovedAndAPlainOneHasNoMounts() throws IOException {
    BuildDirectory.remove(tmp.resolve("never-made"));
    assertEquals(List.of(), BuildDirectory.mountsUnder(tmp.toRealPath()));
    assertTrue(BuildDirectory.mountsUnder(Path.of("/")).contains("/"));
  }

  @Test
  void aRootControllerUnmountsWhatAStoppedBuildLeftMountedAndKeepsTheMountsSource()
      throws Exception {
    requireRootToMount();
    Path hostDev = Files.createDirectories(tmp.resolve("host-dev"));
    Files.writeString(hostDev.resolve("null"), "the host's");
    Path buildRoot = Files.createDirectories(tmp.resolve("build"));
    Path mountPoint = Files.createDirectories(buildRoot.resolve("abc/rootfs/dev"));
    Files.writeString(buildRoot.resolve("abc.log"), "the last build's log");
    // What mmdebstrap --mode=root leaves when the controller is killed while it composes.
    run("mount", "--bind", hostDev.toString(), mountPoint.toString());
    try {
      BuildAccount root = BuildAccount.detect("root", 0, tmp, tmp, tmp, argv -> null);
      BuildDirectory.removeLeftovers(buildRoot, root);

      assertEquals(List.of(), BuildDirectory.mountsUnder(buildRoot.toRealPath()));
      assertFalse(Files.exists(buildRoot.resolve("abc")));
      assertEquals("the host's", Files.readString(hostDev.resolve("null")));
      assertTrue(Files.exists(buildRoot.resolve("abc.log")), "logs stay");
    } finally {
      unmountIfMounted(mountPoint);
    }
  }

  @Test
  void aControllerThatIsNotRootRefusesToDeleteThroughAMountAndNamesIt() throws Exception {
    requireRootToMount();
    Path hostDev = Files.createDirectories(tmp.resolve("host-dev"));
    Files.writeString(hostDev.resolve("null"), "the host's");
    Path mountPoint = Files.createDirectories(tmp.resolve("build/abc/rootfs/dev"));
    run("mount", "--bind", hostDev.toString(), mountPoint.toString());
    try {
      // Left by a build of this data directory's root controller; this one cannot unmount it.
      BuildAccount notRoot = BuildAccount.detect("servicefarm", 995, tmp, tmp, tmp,
          argv -> null);
      IOException e = assertThrows(IOException.class,
          () -> BuildDirectory.remove(tmp.resolve("build/abc"), notRoot));

      assertTrue(e.getMessage().contains("still mounted inside it: "
          + mountPoint.toRealPath()), e.getMessage());
      assertEquals("the host's", Files.readString(hostDev.resolve("null")));
    } finally {
      unmountIfMounted(mountPoint);
    }
  }

  private static void requireRootToMount() {
    if (!"root".equals(System.getProperty("user.name"))) {
      String reason = "MOUNT TEST NOT RUN: only root can mount (CI runs as root)";
      if ("true".equals(System.getenv("CI"))) {
        fail(reason);
      }
      System.err.println(reason);
      Assumptions.assumeTrue(false, reason);
    }
  }

  private static void unmountIfMounted(Path mountPoint) throws Exception {
    if (Files.exists(mountPoint)
        && !BuildDirectory.mountsUnder(mountPoint.toRealPath()).isEmpty()) {
      run("umount", "--lazy", mountPoint.toString());
    }
  }

  private static void run(String... argv) throws Exception {
    Process p = new ProcessBuilder(argv).inheritIO().start();
    assertEquals(0, p.waitFor(), String.join(" ", argv));
  }
}
