package org.servicefarm.agent.hypervisor.storage;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.agent.images.BlobDigest;
import org.servicefarm.agent.images.FakeImageStoreForTest;
import org.servicefarm.agent.images.ImageCache;
import org.servicefarm.agent.images.ImageException;
import org.servicefarm.api.v1.ImageRef;
import org.servicefarm.diskimage.DiskImageHeader;
import org.servicefarm.diskimage.Qcow2Bytes;

/**
 * An archive is put in the store by one host and restored by whichever host the VM lands on, so
 * the restoring host checks it as it would anything from outside: a gzip bomb stops at the bound
 * its VM's disk sets, and an overlay naming a file QEMU would open, or declaring a larger disk,
 * is refused before any QEMU tool opens it.
 */
class HostileArchiveTest {
  private static final int BASE_BYTES = 1 << 20;

  @TempDir
  Path dir;
  private FakeImageStoreForTest store;
  private ImageRef image;

  @BeforeEach
  void storeABaseImage() throws Exception {
    store = FakeImageStoreForTest.started();
    byte[] base = new byte[BASE_BYTES];
    new Random(5).nextBytes(base);
    BlobDigest digest = store.add(base);
    image = ImageRef.newBuilder().setName("web").setSha256(digest.hex()).setFormat("raw")
        .setSizeBytes(BASE_BYTES).build();
  }

  @AfterEach
  void stopStore() throws Exception {
    store.close();
  }

  private QemuDiskStore diskStore(String host) throws IOException {
    Path state = dir.resolve(host);
    return new QemuDiskStore(state,
        new ImageCache(state.resolve("cache"), Long.MAX_VALUE, store.transfers()), new QemuImg());
  }

  @Test
  void aGzipBombArchivedByOneHostStopsAtTheRestoringHostsBound() throws Exception {
    // Host A (or anything holding an admin token) archives 256 MiB of zeros: about 256 KiB.
    Path zeros = dir.resolve("zeros");
    try (var out = Files.newOutputStream(zeros)) {
      byte[] mib = new byte[1 << 20];
      for (int i = 0; i < 256; i++) {
        out.write(mib);
      }
    }
    String ref = new VmArchives(dir.resolve("host-a"), store.transfers()).upload("vm-1", zeros);

    QemuDiskStore hostB = diskStore("host-b");
    long bound = DiskImageHeader.largestFileFor(
        hostB.diskBytes(image, org.servicefarm.agent.images.TransferProgress.NONE));
    VmArchives restoring = new VmArchives(dir.resolve("host-b"), store.transfers());
    ImageException e = assertThrows(ImageException.class,
        () -> restoring.download("vm-1", BlobDigest.fromArchiveRef(ref), bound));
    assertTrue(e.getMessage().contains("unpacks to more than " + bound + " bytes"),
        e.getMessage());
    try (var left = Files.list(dir.resolve("host-b/archives/vm-1"))) {
      assertTrue(left.findAny().isEmpty(), "nothing of the bomb stays on the restoring host");
    }
  }

  @Test
  void anArchivedOverlayNamingAnExternalDataFileIsRefusedBeforeQemuOpensIt() throws Exception {
    Path crafted = Files.write(dir.resolve("restored"),
        Qcow2Bytes.withDataFile(BASE_BYTES, "/var/lib/servicefarm/agent/disks/other-vm.qcow2"));
    HypervisorException e = assertThrows(HypervisorException.class,
        () -> diskStore("host-b").adopt("vm-2", image, crafted));
    assertTrue(e.getMessage().contains(
        "external data file '/var/lib/servicefarm/agent/disks/other-vm.qcow2'"), e.getMessage());
  }

  @Test
  void anArchivedOverlayDeclaringALargerDiskThanItsVmsIsRefused() throws Exception {
    Path crafted = Files.write(dir.resolve("restored"), Qcow2Bytes.plain(1L << 40, 4096));
    HypervisorException e = assertThrows(HypervisorException.class,
        () -> diskStore("host-b").adopt("vm-3", image, crafted));
    assertTrue(e.getMessage().contains("more than the VM's disk of " + BASE_BYTES + " bytes"),
        e.getMessage());
  }

  @Test
  void anArchiveThatIsNotGzipIsRefusedNamingIt() throws Exception {
    BlobDigest notGzip = store.add("plain text, not an archive".getBytes());
    ImageException e = assertThrows(ImageException.class,
        () -> new VmArchives(dir.resolve("host-b"), store.transfers())
            .download("vm-4", notGzip, 1 << 20));
    assertTrue(e.getMessage().contains("is not gzip data"), e.getMessage());
  }

  @Test
  void aBaseImageWhoseHeaderNamesAHostFileIsRefusedByTheHost() throws Exception {
    BlobDigest hostile = store.add(Qcow2Bytes.withBackingFile(BASE_BYTES, "/etc/shadow"));
    ImageRef backed = ImageRef.newBuilder().setName("old").setSha256(hostile.hex())
        .setFormat("qcow2").build();
    HypervisorException e = assertThrows(HypervisorException.class,
        () -> diskStore("host-c").prepare("vm-5", backed));
    assertTrue(e.getMessage().contains("backing file '/etc/shadow'"), e.getMessage());
  }
}
