package org.servicefarm.controller.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.servicefarm.controller.images.OciTestArchives.Entry.dir;
import static org.servicefarm.controller.images.OciTestArchives.Entry.file;
import static org.servicefarm.controller.images.OciTestArchives.Entry.hardlink;
import static org.servicefarm.controller.images.OciTestArchives.Entry.symlink;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.controller.model.FarmException;

class OciLayersTest {
  @TempDir
  Path dir;

  /** The flattened file system: each path with its content ("<dir>", "-> target"). */
  private Map<String, String> flatten(List<List<OciTestArchives.Entry>> layers,
      OciLayers.Limits limits) throws IOException {
    List<byte[]> tars = new java.util.ArrayList<>();
    for (List<OciTestArchives.Entry> l : layers) {
      tars.add(OciTestArchives.layer(l));
    }
    Path archive = OciTestArchives.layout(dir.resolve("image.tar"),
        OciTestArchives.config(List.of("/bin/sh"), List.of(), List.of(), tars), tars);
    Path out = dir.resolve("flat.tar");
    try (OciArchive oci = OciArchive.open(archive)) {
      OciLayers.flatten(oci, oci.read(), out, limits);
    }
    Map<String, String> tree = new TreeMap<>();
    try (InputStream file = Files.newInputStream(out);
        TarArchiveInputStream tar = new TarArchiveInputStream(file)) {
      for (TarArchiveEntry e; (e = tar.getNextEntry()) != null; ) {
        tree.put(e.getName(), e.isDirectory() ? "<dir>" : e.isSymbolicLink()
            ? "-> " + e.getLinkName() : e.isLink() ? "=> " + e.getLinkName()
            : new String(tar.readAllBytes(), StandardCharsets.UTF_8));
      }
    }
    return tree;
  }

  private Map<String, String> flatten(List<List<OciTestArchives.Entry>> layers)
      throws IOException {
    return flatten(layers, OciLayers.Limits.DEFAULT);
  }

  private FarmException.InvalidInput refused(List<List<OciTestArchives.Entry>> layers) {
    return assertThrows(FarmException.InvalidInput.class, () -> flatten(layers));
  }

  @Test
  void laterLayersReplaceWhiteoutsDeleteAndOpaqueDirectoriesEmpty() throws IOException {
    Map<String, String> tree = flatten(List.of(
        List.of(dir("a"), file("a/x", "x1"), file("a/y", "y1"), dir("b"), file("b/keep", "k"),
            dir("c"), file("c/old", "o"), dir("d"), file("d/inner", "i")),
        List.of(file("a/.wh.x", ""), file("a/y", "y2"), file("c/.wh..wh..opq", ""),
            file("c/new", "n"), file(".wh.d", ""))));
    assertEquals(Map.of("a/", "<dir>", "a/y", "y2", "b/", "<dir>", "b/keep", "k", "c/", "<dir>",
        "c/new", "n"), tree);
  }

  @Test
  void fileReplacingADirectoryTakesItsContents() throws IOException {
    Map<String, String> tree = flatten(List.of(
        List.of(dir("etc"), dir("etc/app"), file("etc/app/conf", "c")),
        List.of(file("etc/app", "now a file"))));
    assertEquals(Map.of("etc/", "<dir>", "etc/app", "now a file"), tree);
  }

  @Test
  void linksInsideTheImageAreKept() throws IOException {
    Map<String, String> tree = flatten(List.of(List.of(dir("bin"), file("bin/busybox", "bb"),
        symlink("bin/sh", "busybox"), symlink("bin/ls", "/bin/busybox"),
        hardlink("bin/cat", "bin/busybox"))));
    assertEquals("-> busybox", tree.get("bin/sh"));
    assertEquals("-> /bin/busybox", tree.get("bin/ls"));
    assertEquals("=> bin/busybox", tree.get("bin/cat"));
  }

  @Test
  void pathClimbingOutOfTheImageIsRefused() {
    FarmException.InvalidInput e = refused(List.of(List.of(file("../etc/passwd", "x"))));
    assertTrue(e.getMessage().contains("'../etc/passwd', which climbs out"), e.getMessage());
  }

  @Test
  void absolutePathIsRefused() {
    FarmException.InvalidInput e = refused(List.of(List.of(file("/etc/passwd", "x"))));
    assertTrue(e.getMessage().contains("absolute path '/etc/passwd'"), e.getMessage());
  }

  @Test
  void relativeSymbolicLinkOutOfTheRootIsRefused() {
    FarmException.InvalidInput e = refused(List.of(List.of(dir("a"),
        symlink("a/up", "../../etc"))));
    assertTrue(e.getMessage().contains("symbolic link 'a/up'"), e.getMessage());
    assertTrue(e.getMessage().contains("outside the image"), e.getMessage());
  }

  @Test
  void fileWrittenThroughTheImagesOwnSymbolicLinkIsRefused() {
    FarmException.InvalidInput e = refused(List.of(List.of(symlink("evil", "/etc")),
        List.of(file("evil/passwd", "root::0:0::/:/bin/sh"))));
    assertTrue(e.getMessage().contains("'evil/passwd' is written through the symbolic link"
        + " 'evil'"), e.getMessage());
  }

  @Test
  void hardLinkOutOfTheImageIsRefused() {
    FarmException.InvalidInput climbing = refused(List.of(List.of(
        hardlink("shadow", "../etc/shadow"))));
    assertTrue(climbing.getMessage().contains("climbs out"), climbing.getMessage());
    FarmException.InvalidInput absent = refused(List.of(List.of(hardlink("shadow",
        "etc/shadow"))));
    assertTrue(absent.getMessage().contains("hard link 'shadow' names 'etc/shadow'"),
        absent.getMessage());
  }

  @Test
  void layersUnpackingPastTheLimitAreRefusedNamingTheSizes() {
    FarmException.InvalidInput e = assertThrows(FarmException.InvalidInput.class,
        () -> flatten(List.of(List.of(file("big", "0123456789abcdef"))),
            new OciLayers.Limits(10, 100)));
    assertTrue(e.getMessage().contains("more than 16 bytes"), e.getMessage());
    assertTrue(e.getMessage().contains("over the limit of 10 bytes"), e.getMessage());
  }
}
