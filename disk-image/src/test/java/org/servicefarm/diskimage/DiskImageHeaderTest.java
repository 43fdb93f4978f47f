package org.servicefarm.diskimage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Headers of images made by qemu-img itself, hostile ones among them, and of plain bytes. */
class DiskImageHeaderTest {
  @TempDir
  Path dir;

  private Path qemuImg(String name, String... args) throws Exception {
    boolean present = Files.isExecutable(Path.of("/usr/bin/qemu-img"));
    if (!present && "true".equals(System.getenv("CI"))) {
      throw new AssertionError("qemu-img is missing in CI (Debian package qemu-utils)");
    }
    assumeTrue(present, "SKIPPED LOUDLY: qemu-img is not installed (apt-get install qemu-utils)");
    Path image = dir.resolve(name);
    List<String> command = new ArrayList<>(List.of("qemu-img", "create", "-q"));
    command.addAll(List.of(args));
    command.add(image.toString());
    command.add("64M");
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes());
    assertEquals(0, p.waitFor(), output);
    return image;
  }

  @Test
  void aPlainQcow2ImageIsASafeBase() throws Exception {
    DiskImageHeader header = DiskImageHeader.read(qemuImg("plain.qcow2", "-f", "qcow2"));
    assertTrue(header.qcow2());
    assertEquals(64L << 20, header.virtualSizeBytes());
    assertEquals(List.of(), header.problemsAsBase("qcow2"));
  }

  @Test
  void aQcow2NamingAHostFileAsItsBackingIsRefusedNamingTheFile() throws Exception {
    DiskImageHeader header = DiskImageHeader.read(
        qemuImg("evil.qcow2", "-f", "qcow2", "-u", "-b", "/etc/shadow", "-F", "raw"));
    assertEquals(Optional.of("/etc/shadow"), header.backingFile());
    List<String> problems = header.problemsAsBase("qcow2");
    assertEquals(1, problems.size(), problems.toString());
    assertTrue(problems.get(0).contains("backing file '/etc/shadow'"), problems.toString());
  }

  @Test
  void aQcow2WithAnExternalDataFileIsRefusedAsBaseAndAsOverlay() throws Exception {
    DiskImageHeader header = DiskImageHeader.read(qemuImg("data.qcow2", "-f", "qcow2", "-o",
        "data_file=" + dir.resolve("other-vm.raw") + ",data_file_raw=on"));
    assertEquals(Optional.of(dir.resolve("other-vm.raw").toString()), header.externalDataFile());
    assertTrue(header.problemsAsBase("qcow2").stream()
        .anyMatch(p -> p.contains("external data file '" + dir.resolve("other-vm.raw"))));
    assertTrue(header.problemsAsOverlay(64L << 20).stream()
        .anyMatch(p -> p.contains("external data file")));
  }

  @Test
  void anOverlayLargerThanTheVmsDiskIsRefused() throws Exception {
    DiskImageHeader header = DiskImageHeader.read(qemuImg("big.qcow2", "-f", "qcow2"));
    assertEquals(List.of(), header.problemsAsOverlay(64L << 20));
    List<String> problems = header.problemsAsOverlay(1L << 20);
    assertTrue(problems.get(0).contains("virtual size of 67108864 bytes, more than the VM's disk"
        + " of 1048576 bytes"), problems.toString());
  }

  @Test
  void aFileFarLargerThanItsDeclaredVirtualSizeIsRefused() throws Exception {
    Path image = qemuImg("padded.qcow2", "-f", "qcow2");
    try (var out = Files.newOutputStream(image, java.nio.file.StandardOpenOption.APPEND)) {
      out.write(new byte[(int) (DiskImageHeader.largestFileFor(64L << 20) + 1)]);
    }
    List<String> problems = DiskImageHeader.read(image).problemsAsBase("qcow2");
    assertTrue(problems.get(0).contains("more than a qcow2 image of its declared virtual size"),
        problems.toString());
  }

  @Test
  void rawBytesAreRawAndAQcow2DeclaredRawOrTheReverseIsRefused() throws Exception {
    Path raw = dir.resolve("disk.raw");
    Files.write(raw, new byte[4096]);
    DiskImageHeader header = DiskImageHeader.read(raw);
    assertEquals(List.of(), header.problemsAsBase("raw"));
    assertTrue(header.problemsAsBase("qcow2").get(0).contains("not a qcow2 image"));
    assertTrue(DiskImageHeader.read(qemuImg("q.qcow2", "-f", "qcow2")).problemsAsBase("raw")
        .get(0).contains("declared raw but is a qcow2 image"));
  }

  @Test
  void imagesMadeByteByByteReadAsQemuImgsDo() {
    byte[] backed = Qcow2Bytes.withBackingFile(1 << 20, "/etc/shadow");
    assertEquals(Optional.of("/etc/shadow"),
        DiskImageHeader.parse(backed, backed.length).backingFile());
    byte[] data = Qcow2Bytes.withDataFile(1 << 20, "/dev/vdb");
    assertEquals(Optional.of("/dev/vdb"), DiskImageHeader.parse(data, data.length).externalDataFile());
    byte[] plain = Qcow2Bytes.plain(1 << 20, 8192);
    assertEquals(List.of(), DiskImageHeader.parse(plain, plain.length).problemsAsBase("qcow2"));
  }

  @Test
  void aCutShortHeaderIsMalformedNotACrash() {
    byte[] head = {'Q', 'F', 'I', (byte) 0xfb, 0, 0, 0, 3};
    DiskImageHeader header = DiskImageHeader.parse(head, head.length);
    assertTrue(header.problemsAsBase("qcow2").get(0).contains("cut short"));
  }

  @Test
  void aSymbolicLinkIsNotReadThrough() throws IOException {
    Path link = dir.resolve("link.qcow2");
    Files.createSymbolicLink(link, Path.of("/etc/hostname"));
    assertThrows(IOException.class, () -> DiskImageHeader.read(link));
  }
}
