package org.servicefarm.controller.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.model.FarmException;

class ComposeCommandTest {
  private static final Path ROOTFS = Path.of("/var/lib/servicefarm/build/abc/rootfs");

  @Test
  void includesEveryPackageWithBusyboxAndTheCloudKernel() {
    List<String> argv = ComposeCommand.bookworm().argv(List.of("redis-server", "libc6-dev",
        "g++"), ROOTFS);

    assertEquals("mmdebstrap", argv.get(0));
    assertTrue(argv.contains("--mode=root"), "the mode is said, not left to mmdebstrap's choice");
    assertTrue(argv.contains("--variant=minbase"));
    String include = argv.stream().filter(a -> a.startsWith("--include=")).findFirst().orElseThrow();
    List<String> packages = List.of(include.substring("--include=".length()).split(","));
    assertTrue(packages.containsAll(List.of("redis-server", "libc6-dev", "g++", "busybox",
        "linux-image-cloud-amd64")), include);
    // Suite and target come after the options, in that order.
    assertEquals(List.of("bookworm", ROOTFS.toString()), argv.subList(argv.size() - 2, argv.size()));
  }

  @Test
  void mirrorsFollowTheTarget() {
    List<String> argv = new ComposeCommand("bookworm", List.of("http://mirror.example/debian"))
        .argv(List.of("nginx"), ROOTFS);
    assertEquals(List.of("bookworm", ROOTFS.toString(), "http://mirror.example/debian"),
        argv.subList(argv.size() - 3, argv.size()));
  }

  @Test
  void aRepeatedPackageIsIncludedOnce() {
    List<String> argv = ComposeCommand.bookworm().argv(List.of("busybox", "nginx", "nginx"), ROOTFS);
    String include = argv.stream().filter(a -> a.startsWith("--include=")).findFirst().orElseThrow();
    assertEquals("--include=busybox,linux-image-cloud-amd64,nginx", include);
  }

  @Test
  void somethingThatIsNotAPackageNameIsRefusedBeforeItBecomesAnArgument() {
    FarmException e = assertThrows(FarmException.InvalidInput.class,
        () -> ComposeCommand.bookworm().argv(List.of("nginx,--foo"), ROOTFS));
    assertTrue(e.getMessage().contains("nginx,--foo"), e.getMessage());
    assertThrows(FarmException.InvalidInput.class,
        () -> ComposeCommand.bookworm().argv(List.of("--hook-dir=/tmp"), ROOTFS));
  }
}
