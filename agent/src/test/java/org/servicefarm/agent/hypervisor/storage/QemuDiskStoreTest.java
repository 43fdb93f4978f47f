package org.servicefarm.agent.hypervisor.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.agent.images.BlobDigest;
import org.servicefarm.agent.images.FakeImageStoreForTest;
import org.servicefarm.agent.images.ImageCache;
import org.servicefarm.agent.testing.RealHostPrerequisites;
import org.servicefarm.api.v1.ImageRef;

/** QEMU disks made by the real qemu-img over bases fetched from an in-process image store. */
class QemuDiskStoreTest {

  private static final int BASE_BYTES = 4 << 20;

  @TempDir
  Path dir;

  private FakeImageStoreForTest store;
  private byte[] base;
  private ImageRef image;

  @BeforeEach
  void storeABaseImage() throws Exception {
    RealHostPrerequisites.require(run("qemu-img", "--version").exitCode == 0,
        "qemu-img is not installed, so QEMU overlays were not tested");
    store = FakeImageStoreForTest.started();
    base = new byte[BASE_BYTES];
    new Random(3).nextBytes(base);
    BlobDigest digest = store.add(base);
    image = ImageRef.newBuilder().setName("web").setSha256(digest.hex()).setFormat("raw")
        .setSizeBytes(BASE_BYTES).build();
  }

  @AfterEach
  void stopStore() throws Exception {
    if (store != null) {
      store.close();
    }
  }

  private QemuDiskStore diskStore(String host) throws IOException {
    Path state = dir.resolve(host);
    return new QemuDiskStore(state,
        new ImageCache(state.resolve("cache"), Long.MAX_VALUE, store.transfers()), new QemuImg());
  }

  private record Result(int exitCode, String output) {}

  private static Result run(String... command) throws Exception {
    Process process;
    try {
      process = new ProcessBuilder(command).redirectErrorStream(true).start();
    } catch (IOException e) {
      return new Result(-1, e.getMessage());
    }
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    process.waitFor(60, TimeUnit.SECONDS);
    return new Result(process.exitValue(), output);
  }

  private static String info(Path disk) throws Exception {
    Result info = run("qemu-img", "info", "-U", "--output=json", disk.toString());
    assertEquals(0, info.exitCode, info.output);
    return info.output;
  }

  /** What the guest would read from the disk: the overlay flattened through its backing chain. */
  private byte[] guestView(Path disk) throws Exception {
    Path flat = dir.resolve("flat-" + System.nanoTime() + ".raw");
    Result convert = run("qemu-img", "convert", "-O", "raw", disk.toString(), flat.toString());
    assertEquals(0, convert.exitCode, convert.output);
    return Files.readAllBytes(flat);
  }

  @Test
  void vmDiskIsASmallOverlayOnTheCachedBaseThatReadsAsTheBase() throws Exception {
    QemuDiskStore disks = diskStore("host-a");

    try (PreparedDisk prepared = disks.prepare("vm-1", image)) {
      Path overlay = prepared.disk();
      assertEquals(disks.diskPath("vm-1"), overlay);
      assertTrue(Files.size(overlay) < BASE_BYTES / 8,
          "overlay is " + Files.size(overlay) + " bytes: a copy, not an overlay");
      String info = info(overlay);
      assertTrue(info.contains(dir.resolve("host-a/cache").resolve(image.getSha256()).toString()),
          "overlay does not point at the cached base: " + info);
      assertArrayEquals(base, guestView(overlay));
      assertEquals(List.of(image.getSha256()), prepared.blobs());
    }
    disks.remove("vm-1");
    assertTrue(Files.notExists(disks.diskPath("vm-1")));
    assertEquals(List.of(image.getSha256()), disks.cachedImages(), "delete dropped the base");
  }

  @Test
  void overlayBroughtToAnotherHostPointsAtThatHostsCache() throws Exception {
    QemuDiskStore hostA = diskStore("host-a");
    hostA.prepare("vm-2", image).close();
    Path carried = Files.copy(hostA.diskPath("vm-2"), dir.resolve("carried.qcow2"));
    hostA.remove("vm-2");

    QemuDiskStore hostB = diskStore("host-b");
    try (PreparedDisk adopted = hostB.adopt("vm-2", image, carried)) {
      String info = info(adopted.disk());
      assertTrue(info.contains(dir.resolve("host-b/cache").resolve(image.getSha256()).toString()),
          "restored overlay still points elsewhere: " + info);
      assertArrayEquals(base, guestView(adopted.disk()));
    }
  }

  @Test
  void imagesWithoutADigestOrWithAnUnknownFormatAreInvalid() throws Exception {
    QemuDiskStore disks = diskStore("host-a");
    var noDigest = assertThrows(HypervisorException.class,
        () -> disks.prepare("vm-3", image.toBuilder().setSha256("").build()));
    assertEquals(HypervisorException.Kind.INVALID, noDigest.kind());
    assertTrue(noDigest.getMessage().contains("web"), noDigest.getMessage());
    var vmdk = assertThrows(HypervisorException.class,
        () -> disks.prepare("vm-3", image.toBuilder().setFormat("vmdk").build()));
    assertEquals(HypervisorException.Kind.INVALID, vmdk.kind());
  }

  @Test
  void aNewDiskIsRefusedWhereTheVmHasOneAndTheDiskIsLeftAsItWas() throws Exception {
    QemuDiskStore disks = diskStore("host-a");
    disks.prepare("vm-4", image).close();
    Path disk = disks.diskPath("vm-4");
    byte[] written = Files.readAllBytes(disk);

    var refused = assertThrows(HypervisorException.class, () -> disks.prepare("vm-4", image));
    assertTrue(refused.getMessage().contains(disk.toString()), refused.getMessage());
    assertArrayEquals(written, Files.readAllBytes(disk), "the VM's disk is untouched");
    try (var left = Files.list(disk.getParent())) {
      assertEquals(List.of(disk), left.toList(), "no half-made overlay left beside it");
    }

    Path carried = Files.copy(disk, dir.resolve("carried.qcow2"));
    var adoptRefused = assertThrows(HypervisorException.class,
        () -> disks.adopt("vm-4", image, carried));
    assertTrue(adoptRefused.getMessage().contains(disk.toString()), adoptRefused.getMessage());
  }

  @Test
  void theDiskAVmHasIsFoundAgainWithItsBaseCachedAgain() throws Exception {
    QemuDiskStore disks = diskStore("host-a");
    assertTrue(disks.existing("vm-5", image, (done, total) -> { }).isEmpty(), "no disk yet");
    disks.prepare("vm-5", image).close();
    // A wiped or trimmed cache: the overlay's base is fetched again to the path it names.
    Files.delete(dir.resolve("host-a/cache").resolve(image.getSha256()));

    try (PreparedDisk found = disks.existing("vm-5", image, (done, total) -> { }).orElseThrow()) {
      assertEquals(disks.diskPath("vm-5"), found.disk());
      assertEquals(List.of(image.getSha256()), found.blobs());
      assertArrayEquals(base, guestView(found.disk()));
    }
  }
}
