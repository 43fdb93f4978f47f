package org.servicefarm.controller.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.images.TreeListing.Entry;

class LayerChangesTest {

  private static String record(String head, String path, String target) {
    return head + "\0" + path + "\0" + target + "\0";
  }

  private static Map<String, Entry> listing(String... records) {
    return TreeListing.parse(String.join("", records).getBytes(StandardCharsets.ISO_8859_1));
  }

  private static final String ROOT = record("d 0755 0 0 4096 1.0 1.0 2 3", "", "");
  private static final String ETC = record("d 0755 0 0 4096 1.0 1.0 10 2", "etc", "");
  private static final String OLD = record("f 0644 0 0 5 1.0 1.0 11 1", "etc/old", "");

  @Test
  void anUnchangedTreeNeedsNoCommands() throws Exception {
    assertEquals("", LayerChanges.debugfsScript(listing(ROOT, ETC, OLD), listing(ROOT, ETC, OLD),
        "/build/rootfs"));
  }

  @Test
  void newFilesAreWrittenWithTheirOwnersModeAndTimeInsideNewDirectoriesMadeFirst()
      throws Exception {
    String script = LayerChanges.debugfsScript(listing(ROOT, ETC),
        listing(ROOT, ETC,
            record("f 04755 0 42 10 1700000000.5 9.0 20 1", "usr/bin/tool", ""),
            record("d 0750 7 7 4096 1700000000.0 9.0 21 2", "usr/bin", ""),
            record("d 0755 0 0 4096 1700000000.0 9.0 22 3", "usr", "")),
        "/build/rootfs");

    List<String> lines = script.lines().toList();
    assertTrue(lines.indexOf("mkdir \"usr\"") < lines.indexOf("mkdir \"bin\""), script);
    assertTrue(lines.contains("cd \"/usr/bin\""), script);
    assertTrue(lines.contains("write \"/build/rootfs/usr/bin/tool\" \"tool\""), script);
    assertTrue(lines.contains("sif \"/usr/bin/tool\" mode 0104755"), script);
    assertTrue(lines.contains("sif \"/usr/bin/tool\" gid 42"), script);
    assertTrue(lines.contains("sif \"/usr/bin/tool\" mtime @1700000000"), script);
    assertTrue(lines.contains("sif \"/usr/bin\" mode 040750"), script);
    assertTrue(lines.contains("sif \"/usr/bin\" uid 7"), script);
  }

  @Test
  void aReplacedFileIsRemovedThenWrittenAndAGoneOneRemoved() throws Exception {
    String script = LayerChanges.debugfsScript(
        listing(ROOT, ETC, OLD, record("f 0644 0 0 3 1.0 1.0 12 1", "etc/gone", "")),
        listing(ROOT, ETC, record("f 0644 0 0 9 2.0 2.0 30 1", "etc/old", "")),
        "/r");

    assertTrue(script.contains("rm \"/etc/gone\"\n"), script);
    assertTrue(script.contains("cd \"/etc\"\nrm \"old\"\nwrite \"/r/etc/old\" \"old\"\n"), script);
  }

  @Test
  void aDirectoryThatBecameALinkLosesItsContentsFirst() throws Exception {
    String script = LayerChanges.debugfsScript(
        listing(ROOT, record("d 0755 0 0 4096 1.0 1.0 40 2", "lib", ""),
            record("f 0644 0 0 1 1.0 1.0 41 1", "lib/x", "")),
        listing(ROOT, record("l 0777 0 0 7 2.0 2.0 50 1", "lib", "usr/lib")),
        "/r");

    assertTrue(script.indexOf("rm \"/lib/x\"") < script.indexOf("rmdir \"/lib\""), script);
    assertTrue(script.contains("symlink \"lib\" \"usr/lib\""), script);
  }

  @Test
  void hardLinksShareOneInodeWithItsCountSet() throws Exception {
    String script = LayerChanges.debugfsScript(listing(ROOT),
        listing(ROOT, record("f 0755 0 0 9 1.0 1.0 60 2", "a", ""),
            record("f 0755 0 0 9 1.0 1.0 60 2", "b", "")),
        "/r");

    assertEquals(1, script.lines().filter(l -> l.startsWith("write ")).count(), script);
    assertTrue(script.contains("ln \"/a\" \"b\""), script);
    assertTrue(script.contains("sif \"/a\" links_count 2"), script);
  }

  @Test
  void aptListsMountedDirectoriesAndTheKernelsFilesStayOutOfTheLayer() throws Exception {
    String script = LayerChanges.debugfsScript(listing(ROOT),
        listing(ROOT, record("f 0644 0 0 9 1.0 1.0 70 1", "var/lib/apt/lists/x_Packages", ""),
            record("f 0644 0 0 9 1.0 1.0 71 1", "var/cache/apt/archives/p.deb", ""),
            record("c 0666 0 0 0 1.0 1.0 72 1", "dev/null", ""),
            record("f 0644 0 0 9 1.0 1.0 73 1", "usr/lib/modules/6.1.0/extra.ko", ""),
            record("f 0644 0 0 9 1.0 1.0 74 1", "boot/initrd.img-6.1.0", ""),
            record("f 0644 0 0 9 1.0 1.0 75 1", "bootstrap.txt", "")),
        "/r");

    assertEquals(List.of("cd \"/\"", "write \"/r/bootstrap.txt\" \"bootstrap.txt\"",
        "sif \"/bootstrap.txt\" mode 0100644", "sif \"/bootstrap.txt\" uid 0",
        "sif \"/bootstrap.txt\" gid 0", "sif \"/bootstrap.txt\" mtime @1"),
        script.lines().toList());
  }

  @Test
  void aDeviceOrAQuoteInANameIsRefusedNamingIt() {
    ToolRunner.ToolFailure device = assertThrows(ToolRunner.ToolFailure.class,
        () -> LayerChanges.debugfsScript(listing(ROOT),
            listing(ROOT, record("c 0666 0 0 0 1.0 1.0 80 1", "opt/console", "")), "/r"));
    assertTrue(device.getMessage().contains("/opt/console"), device.getMessage());

    ToolRunner.ToolFailure quote = assertThrows(ToolRunner.ToolFailure.class,
        () -> LayerChanges.debugfsScript(listing(ROOT),
            listing(ROOT, record("f 0644 0 0 0 1.0 1.0 81 1", "opt/a\"b", "")), "/r"));
    assertTrue(quote.getMessage().contains("opt/a\"b"), quote.getMessage());
  }
}
