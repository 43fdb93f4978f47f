package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.api.v1.Image;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.Await;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * A blob altered in the controller's image store is refused by the host that fetches it: the
 * install fails naming the blob and its digest, and no VM is defined from it. The host fetches
 * and verifies real blobs into its image cache; libvirt's test driver stands in for QEMU.
 */
class BlobStoreTamperingIntegrationTest {
  private static InProcessFarm farm;
  private static FarmClient client;
  @TempDir Path dir;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig());
    farm.addCachingHost("caching-host", 4, 4096);
    farm.awaitConnected(List.of("caching-host"));
    client = farm.client();
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  private Image upload(String name, long seed) throws Exception {
    byte[] data = new byte[2 * 1024 * 1024];
    new Random(seed).nextBytes(data);
    Path file = Files.write(dir.resolve(name + ".raw"), data);
    return client.uploadImage(name, "raw", file, Duration.ofMinutes(1));
  }

  private void define(String service, String image) {
    client.defineService(ServiceDefinition.newBuilder().setName(service).setImage(image)
        .setPort(8080).setMemoryMb(256).build());
  }

  @Test
  void anIntactImageIsFetchedVerifiedAndInstalled() throws Exception {
    Image image = upload("intact-base", 1);
    define("intact", "intact-base");

    ServiceAccess access = client.requestService("intact");

    assertEquals(image.getId(), client.getVm(access.vmId()).getImageId());
    assertTrue(Files.isRegularFile(cacheFile(image.getSha256())),
        "the host did not cache the image");
  }

  @Test
  void aBlobAlteredInTheControllersStoreFailsTheInstallNamingItAndNoVmBootsFromIt()
      throws Exception {
    Image image = upload("altered-base", 2);
    try (FileChannel stored = FileChannel.open(farm.storedBlob(image.getSha256()),
        StandardOpenOption.WRITE)) {
      stored.write(ByteBuffer.wrap(new byte[] {0x13, 0x37}), 1_000_000);
    }
    define("altered", "altered-base");

    FarmException refused = assertThrows(FarmException.class,
        () -> client.requestService("altered"));

    assertTrue(refused.getMessage().contains(image.getSha256()), refused.getMessage());
    Await.until("the VM of 'altered' to fail", Duration.ofSeconds(30), () ->
        failedVmOf("altered") != null);
    Vm vm = failedVmOf("altered");
    assertTrue(vm.getFailureReason().contains(image.getSha256())
        && vm.getFailureReason().contains("altered in transit or in the controller's store"),
        vm.getFailureReason());
    assertFalse(farm.host("caching-host").hypervisor.inventory().stream()
        .anyMatch(domain -> domain.getVmId().equals(vm.getId())), "a domain was defined");
    assertFalse(Files.exists(cacheFile(image.getSha256())), "the altered blob was cached");
  }

  @Test
  void anImageRowPointedAtAnotherBlobAfterSigningIsRefusedByTheHost() throws Exception {
    Image signed = upload("signed-base", 3);
    Image other = upload("other-base", 4);
    define("signed-first", "signed-base");
    client.requestService("signed-first"); // the first use signs the image's manifest
    // The catalog row altered behind the controller's back: its manifest still names the
    // original disk, so the host refuses the swap.
    farm.db().update("UPDATE images SET sha256 = ?, size_bytes = ? WHERE id = ?::uuid",
        other.getSha256(), other.getSizeBytes(), signed.getId());
    define("signed-second", "signed-base");

    FarmException refused = assertThrows(FarmException.class,
        () -> client.requestService("signed-second"));

    assertTrue(refused.getMessage().contains("differs from its signed manifest")
        && refused.getMessage().contains(other.getSha256())
        && refused.getMessage().contains(signed.getSha256()), refused.getMessage());
  }

  @Test
  void anArchiveAlteredInTheControllersStoreIsRefusedWhenTheVmIsRestored() throws Exception {
    upload("archived-base", 5);
    define("archived", "archived-base");
    ServiceAccess access = client.requestService("archived");
    client.releaseLease(access.lease().id());
    client.archiveVm(access.vmId());
    String archiveRef = farm.db().queryOne("SELECT archive_ref FROM vms WHERE id = ?::uuid",
        rs -> rs.getString(1), access.vmId()).orElseThrow();
    String digest = archiveRef.substring("sha256:".length());
    try (FileChannel stored = FileChannel.open(farm.storedBlob(digest),
        StandardOpenOption.WRITE)) {
      stored.write(ByteBuffer.wrap(new byte[] {0x13, 0x37}), 100);
    }

    client.restoreVm(access.vmId());

    Await.until("the restore of " + access.vmId() + " to fail", Duration.ofSeconds(30),
        () -> client.getVm(access.vmId()).getState() == VmState.VM_STATE_FAILED);
    String reason = client.getVm(access.vmId()).getFailureReason();
    assertTrue(reason.contains(archiveRef)
        && reason.contains("altered in transit or in the controller's store"), reason);
    assertFalse(farm.host("caching-host").hypervisor.inventory().stream()
        .anyMatch(domain -> domain.getVmId().equals(access.vmId())), "a domain was defined");
  }

  private static Vm failedVmOf(String definition) {
    return client.listVms().stream().filter(v -> v.getDefinition().equals(definition)
        && v.getState() == VmState.VM_STATE_FAILED).findFirst().orElse(null);
  }

  private static Path cacheFile(String sha256) {
    return farm.hostDir("caching-host").resolve("cache").resolve(sha256);
  }
}
