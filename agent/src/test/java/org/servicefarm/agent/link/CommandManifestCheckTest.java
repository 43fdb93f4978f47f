package org.servicefarm.agent.link;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.agent.hypervisor.HypervisorKind;
import org.servicefarm.agent.hypervisor.libvirt.HostPortAllocator;
import org.servicefarm.agent.hypervisor.libvirt.HostSettings;
import org.servicefarm.agent.hypervisor.libvirt.LibvirtConnection;
import org.servicefarm.agent.hypervisor.libvirt.LibvirtHypervisor;
import org.servicefarm.agent.hypervisor.storage.PathOnlyDiskStore;
import org.servicefarm.agent.hypervisor.storage.VmArchives;
import org.servicefarm.agent.images.FakeImageStoreForTest;
import org.servicefarm.agent.images.ManifestVerifier;
import org.servicefarm.agent.images.ManifestsForTest;
import org.servicefarm.api.v1.ArchiveManifest;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.CommandError;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.api.v1.ImageRef;
import org.servicefarm.api.v1.InstallVm;
import org.servicefarm.api.v1.RestoreVm;

/**
 * Installs and restores whose signed manifest fails are refused before the hypervisor defines
 * anything, with an image error that names what failed.
 */
class CommandManifestCheckTest {

  @TempDir
  Path stateDir;

  private FakeImageStoreForTest imageStore;
  private LibvirtHypervisor hypervisor;
  private ManifestsForTest.Key farmKey;
  private CommandHandler handler;

  private static final ImageRef REDIS = ImageRef.newBuilder().setImageId("7d1e").setName("redis")
      .setSha256("a".repeat(64)).setSizeBytes(1 << 20).setFormat("qcow2").build();

  @BeforeEach
  void start() throws Exception {
    imageStore = FakeImageStoreForTest.started();
    hypervisor = new LibvirtHypervisor(new LibvirtConnection("test:///default"),
        new HostSettings("host-1", HypervisorKind.TEST, "127.0.0.1"),
        new PathOnlyDiskStore(stateDir), new VmArchives(stateDir, imageStore.transfers()),
        new HostPortAllocator(20000, 29999));
    farmKey = ManifestsForTest.newKey();
    ManifestVerifier verifier = new ManifestVerifier();
    verifier.trust(List.of(farmKey.published()));
    handler = new CommandHandler(hypervisor, new GenerationTracker(), CommandObserver.NONE,
        verifier);
  }

  @AfterEach
  void stop() throws Exception {
    hypervisor.close();
    imageStore.close();
  }

  private static Command install(String vmId, ImageRef image) {
    return Command.newBuilder().setCommandId(vmId + ":1:install").setVmId(vmId).setGeneration(1)
        .setInstall(InstallVm.newBuilder().setImage(image).setVcpus(1).setMemoryMb(256)
            .addGuestPorts(6379))
        .build();
  }

  private boolean defined(String vmId) throws Exception {
    return hypervisor.inventory().stream().anyMatch(d -> d.getVmId().equals(vmId));
  }

  @Test
  void anInstallWhoseManifestSignatureIsBadIsRefusedAndDefinesNoDomain() throws Exception {
    String vmId = "vm-" + UUID.randomUUID();
    ImageRef signed = ManifestsForTest.signed(REDIS, farmKey);
    byte[] signature = signed.getManifest().getSignature().toByteArray();
    signature[7] ^= 1;
    ImageRef forged = signed.toBuilder().setManifest(signed.getManifest().toBuilder()
        .setSignature(ByteString.copyFrom(signature))).build();

    CommandResult result = handler.execute(install(vmId, forged));

    assertFalse(result.getOk());
    assertEquals(CommandError.COMMAND_ERROR_IMAGE, result.getErrorKind());
    assertTrue(result.getError().contains("image redis")
        && result.getError().contains("signature does not verify"), result.getError());
    assertFalse(defined(vmId), "a domain was defined for a refused image");
  }

  @Test
  void anInstallNamingADiskOtherThanTheSignedOneIsRefusedNamingBothDigests() throws Exception {
    String vmId = "vm-" + UUID.randomUUID();
    String swapped = "b".repeat(64);
    ImageRef image = ManifestsForTest.signed(REDIS, farmKey).toBuilder().setSha256(swapped).build();

    CommandResult result = handler.execute(install(vmId, image));

    assertEquals(CommandError.COMMAND_ERROR_IMAGE, result.getErrorKind());
    assertTrue(result.getError().contains(swapped) && result.getError().contains("a".repeat(64)),
        result.getError());
    assertFalse(defined(vmId));
  }

  @Test
  void aSignedInstallIsCarriedOut() throws Exception {
    String vmId = "vm-" + UUID.randomUUID();
    CommandResult result = handler.execute(install(vmId, ManifestsForTest.signed(REDIS, farmKey)));
    assertTrue(result.getOk(), result.getError());
    assertTrue(defined(vmId));
  }

  @Test
  void aRestoreOfAnArchiveItsManifestDoesNotNameIsRefusedBeforeFetchingIt() throws Exception {
    String vmId = "vm-" + UUID.randomUUID();
    String signedDigest = "c".repeat(64);
    String archiveRef = "sha256:" + "d".repeat(64);
    Command restore = Command.newBuilder().setCommandId(vmId + ":1:restore").setVmId(vmId)
        .setGeneration(1)
        .setRestore(RestoreVm.newBuilder().setArchiveRef(archiveRef)
            .setArchiveManifest(ManifestsForTest.sign(ArchiveManifest.newBuilder()
                .setVmId(vmId).setArchiveSha256(signedDigest).build().toByteArray(), farmKey))
            .setImage(ManifestsForTest.signed(REDIS, farmKey)).setVcpus(1).setMemoryMb(256))
        .build();

    CommandResult result = handler.execute(restore);

    assertEquals(CommandError.COMMAND_ERROR_IMAGE, result.getErrorKind());
    assertTrue(result.getError().contains(archiveRef) && result.getError().contains(signedDigest),
        result.getError());
    assertTrue(imageStore.fetchRequests.isEmpty(), "the archive was fetched anyway");
    assertFalse(defined(vmId));
  }
}
