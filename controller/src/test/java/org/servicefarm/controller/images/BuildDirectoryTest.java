package org.servicefarm.controller.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
}
