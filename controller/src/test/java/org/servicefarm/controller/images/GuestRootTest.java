package org.servicefarm.controller.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A composed root file system is made by packages' scripts, so its links may point anywhere:
 * what the constructor writes into it, or takes out of it, must stay inside it.
 */
class GuestRootTest {
  @TempDir
  Path temp;
  Path rootfs;
  Path outside;

  @BeforeEach
  void makeRootAndAPlaceOutside() throws IOException {
    rootfs = Files.createDirectories(temp.resolve("rootfs"));
    outside = Files.createDirectories(temp.resolve("controller-etc"));
  }

  @Test
  void theInitWrittenThroughAnAbsoluteLinkLandsInsideTheImage() throws IOException {
    // A hostile package: /sbin and /etc as absolute links, which the controller would follow.
    Files.createSymbolicLink(rootfs.resolve("sbin"), outside);
    Files.createSymbolicLink(rootfs.resolve("etc"), outside.resolve("etc"));

    new GuestInit("web", "true").writeInto(rootfs);

    try (var leaked = Files.walk(outside)) {
      assertEquals(1, leaked.count(), "nothing written outside the image");
    }
    // The guest resolves /sbin -> <outside path> inside its own root, so that is where it is.
    Path init = new GuestRoot(rootfs).resolve(GuestInit.INIT_PATH);
    assertTrue(init.startsWith(rootfs.toRealPath()), init.toString());
    assertTrue(Files.isRegularFile(init, LinkOption.NOFOLLOW_LINKS));
    assertFalse(Files.exists(Path.of("/etc/servicefarm/command")),
        "the controller's own /etc was not written");
  }

  @Test
  void mergedUsrLinksAreFollowedInsideTheImageAsTheGuestWill() throws IOException {
    Files.createDirectories(rootfs.resolve("usr/sbin"));
    Files.createSymbolicLink(rootfs.resolve("sbin"), Path.of("usr/sbin"));

    new GuestInit("web", "true").writeInto(rootfs);

    assertTrue(Files.isRegularFile(rootfs.resolve("usr/sbin/servicefarm-init")));
  }

  @Test
  void dotDotAndLinksUpwardStopAtTheImagesRoot() throws IOException {
    Files.createDirectories(rootfs.resolve("etc"));
    Files.createSymbolicLink(rootfs.resolve("etc/servicefarm"), Path.of("../../../controller-etc"));
    GuestRoot guest = new GuestRoot(rootfs);

    assertEquals(rootfs.toRealPath().resolve("controller-etc"), guest.resolve("/etc/servicefarm"));
    assertEquals(rootfs.toRealPath().resolve("x"), guest.resolve("/../../x"));
  }

  @Test
  void aFileThatIsALinkIsReplacedNotWrittenThrough() throws IOException {
    Path victim = Files.writeString(outside.resolve("shadow"), "secret");
    Files.createDirectories(rootfs.resolve("etc/servicefarm"));
    Files.createSymbolicLink(rootfs.resolve("etc/servicefarm/command"), victim);

    new GuestInit("web", "busybox httpd").writeInto(rootfs);

    assertEquals("secret", Files.readString(victim));
    assertEquals("busybox httpd", Files.readString(rootfs.resolve("etc/servicefarm/command")));
    assertFalse(Files.isSymbolicLink(rootfs.resolve("etc/servicefarm/command")));
  }

  @Test
  void aKernelThatLinksOutOfTheImageIsResolvedInsideIt() throws IOException {
    Path hostFile = Files.writeString(outside.resolve("vmlinuz-host"), "host kernel");
    Files.createDirectories(rootfs.resolve("boot"));
    Files.createSymbolicLink(rootfs.resolve("boot/vmlinuz-6.1"), hostFile);

    Path kernel = new GuestRoot(rootfs).resolve("/boot/vmlinuz-6.1");

    assertTrue(kernel.startsWith(rootfs.toRealPath()), kernel.toString());
    assertFalse(Files.exists(kernel), "the link's target, taken inside the image, does not exist");
  }

  @Test
  void aLinkLoopIsRefused() throws IOException {
    Files.createSymbolicLink(rootfs.resolve("a"), Path.of("/b"));
    Files.createSymbolicLink(rootfs.resolve("b"), Path.of("/a"));
    IOException e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class,
        () -> new GuestRoot(rootfs).resolve("/a/file"));
    assertTrue(e.getMessage().contains("loop"), e.getMessage());
  }
}
