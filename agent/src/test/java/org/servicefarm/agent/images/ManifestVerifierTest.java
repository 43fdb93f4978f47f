package org.servicefarm.agent.images;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.ArchiveManifest;
import org.servicefarm.api.v1.ImageRef;
import org.servicefarm.api.v1.SignedManifest;

/** What an agent accepts as a signed image or archive, and what it refuses, saying why. */
class ManifestVerifierTest {

  private static final ImageRef WEB = ImageRef.newBuilder().setImageId("5f0c").setName("web")
      .setSha256("a".repeat(64)).setSizeBytes(4096).setFormat("qcow2")
      .setBaseLayerSha256("b".repeat(64)).setBaseLayerSizeBytes(8192)
      .setKernelSha256("c".repeat(64)).setInitrdSha256("d".repeat(64))
      .setKernelCmdline("console=ttyS0 root=/dev/vda").build();

  private static ImageException refused(ManifestVerifier verifier, ImageRef image) {
    return assertThrows(ImageException.class, () -> verifier.verifyImage(image));
  }

  @Test
  void anImageSignedByATrustedKeyIsAccepted() throws Exception {
    ManifestsForTest.Key key = ManifestsForTest.newKey();
    ManifestVerifier verifier = new ManifestVerifier();
    verifier.trust(List.of(key.published()));
    assertDoesNotThrow(() -> verifier.verifyImage(ManifestsForTest.signed(WEB, key)));
  }

  @Test
  void afterARotationTheManifestsThePreviousKeySignedStillVerify() throws Exception {
    ManifestsForTest.Key previous = ManifestsForTest.newKey();
    ManifestsForTest.Key current = ManifestsForTest.newKey();
    ManifestVerifier verifier = new ManifestVerifier();
    verifier.trust(List.of(previous.published()));
    ImageRef signedBefore = ManifestsForTest.signed(WEB, previous);
    // A controller that rotated tells the agent both keys at the next registration.
    verifier.trust(List.of(previous.published(), current.published()));
    assertDoesNotThrow(() -> verifier.verifyImage(signedBefore));
    assertDoesNotThrow(() -> verifier.verifyImage(ManifestsForTest.signed(WEB, current)));
  }

  @Test
  void aManifestSignedByAKeyTheHostDoesNotTrustIsRefusedNamingTheKey() throws Exception {
    ManifestsForTest.Key farm = ManifestsForTest.newKey();
    ManifestsForTest.Key stranger = ManifestsForTest.newKey();
    ManifestVerifier verifier = new ManifestVerifier();
    verifier.trust(List.of(farm.published()));
    ImageException e = refused(verifier, ManifestsForTest.signed(WEB, stranger));
    assertTrue(e.getMessage().contains("image web") && e.getMessage().contains(stranger.id())
        && e.getMessage().contains("does not trust"), e.getMessage());
  }

  @Test
  void aManifestWithABadSignatureIsRefused() throws Exception {
    ManifestsForTest.Key key = ManifestsForTest.newKey();
    ManifestVerifier verifier = new ManifestVerifier();
    verifier.trust(List.of(key.published()));
    ImageRef signed = ManifestsForTest.signed(WEB, key);
    byte[] signature = signed.getManifest().getSignature().toByteArray();
    signature[0] ^= 1;
    ImageRef forged = signed.toBuilder().setManifest(signed.getManifest().toBuilder()
        .setSignature(ByteString.copyFrom(signature))).build();
    ImageException e = refused(verifier, forged);
    assertTrue(e.getMessage().contains("image web")
        && e.getMessage().contains("signature does not verify"), e.getMessage());
  }

  @Test
  void aManifestVerifiedBeforeIsTakenAgainWhileAlteredCopiesOfItAreStillRefused()
      throws Exception {
    ManifestsForTest.Key key = ManifestsForTest.newKey();
    ManifestVerifier verifier = new ManifestVerifier();
    verifier.trust(List.of(key.published()));
    ImageRef signed = ManifestsForTest.signed(WEB, key);
    verifier.verifyImage(signed);
    byte[] signature = signed.getManifest().getSignature().toByteArray();
    signature[signature.length - 1] ^= 1;
    ImageRef forged = signed.toBuilder().setManifest(signed.getManifest().toBuilder()
        .setSignature(ByteString.copyFrom(signature))).build();
    assertTrue(refused(verifier, forged).getMessage().contains("signature does not verify"));
    ImageRef other = WEB.toBuilder().setSha256("e".repeat(64)).build();
    ImageRef altered = other.toBuilder().setManifest(signed.getManifest().toBuilder()
        .setManifest(ManifestsForTest.manifestOf(other).toByteString())).build();
    assertTrue(refused(verifier, altered).getMessage().contains("signature does not verify"));
    // The command's fields are compared with the manifest every time, remembered or not.
    assertTrue(refused(verifier, signed.toBuilder().setSha256("f".repeat(64)).build())
        .getMessage().contains("disk sha256"));
    assertDoesNotThrow(() -> verifier.verifyImage(signed));
  }

  @Test
  void rememberedSignaturesAreBoundedTheLeastRecentlyUsedForgottenFirst() {
    VerifiedSignatures remembered = new VerifiedSignatures();
    byte[] first = {1};
    remembered.verified("k", first, new byte[] {9});
    for (int i = 0; i < VerifiedSignatures.CAPACITY; i++) {
      remembered.verified("k", new byte[] {2, (byte) i, (byte) (i >> 8)}, new byte[] {9});
    }
    assertEquals(VerifiedSignatures.CAPACITY, remembered.size());
    assertFalse(remembered.verifiedBefore("k", first, new byte[] {9}));
    // Key id, manifest and signature are told apart: the same bytes split otherwise do not match.
    remembered.verified("ab", new byte[] {3}, new byte[] {4});
    assertFalse(remembered.verifiedBefore("a", new byte[] {'b', 3}, new byte[] {4}));
    assertTrue(remembered.verifiedBefore("ab", new byte[] {3}, new byte[] {4}));
  }

  @Test
  void aManifestAlteredAfterSigningIsRefused() throws Exception {
    ManifestsForTest.Key key = ManifestsForTest.newKey();
    ManifestVerifier verifier = new ManifestVerifier();
    verifier.trust(List.of(key.published()));
    ImageRef signed = ManifestsForTest.signed(WEB, key);
    ImageRef other = WEB.toBuilder().setSha256("e".repeat(64)).build();
    ImageRef altered = other.toBuilder().setManifest(signed.getManifest().toBuilder()
        .setManifest(ManifestsForTest.manifestOf(other).toByteString())).build();
    ImageException e = refused(verifier, altered);
    assertTrue(e.getMessage().contains("signature does not verify"), e.getMessage());
  }

  @Test
  void aCommandWhoseDigestsDifferFromTheSignedManifestIsRefusedNamingTheField() throws Exception {
    ManifestsForTest.Key key = ManifestsForTest.newKey();
    ManifestVerifier verifier = new ManifestVerifier();
    verifier.trust(List.of(key.published()));
    ImageRef signed = ManifestsForTest.signed(WEB, key);
    String swapped = "f".repeat(64);
    ImageException e = refused(verifier, signed.toBuilder().setBaseLayerSha256(swapped).build());
    assertTrue(e.getMessage().contains("base layer sha256 '" + swapped + "'")
        && e.getMessage().contains("b".repeat(64)), e.getMessage());
    ImageException cmdline = refused(verifier,
        signed.toBuilder().setKernelCmdline("console=ttyS0 init=/bin/sh").build());
    assertTrue(cmdline.getMessage().contains("kernel command line"), cmdline.getMessage());
  }

  @Test
  void anUnsignedImageIsRefusedOnceTheControllerGaveKeysAndTakenFromAControllerThatGaveNone()
      throws Exception {
    ManifestVerifier verifier = new ManifestVerifier();
    assertDoesNotThrow(() -> verifier.verifyImage(WEB));
    verifier.trust(List.of(ManifestsForTest.newKey().published()));
    ImageException e = refused(verifier, WEB);
    assertTrue(e.getMessage().contains("no signed manifest"), e.getMessage());
  }

  @Test
  void anArchiveIsAcceptedOnlyForTheVmAndDigestItsManifestNames() throws Exception {
    ManifestsForTest.Key key = ManifestsForTest.newKey();
    ManifestVerifier verifier = new ManifestVerifier();
    verifier.trust(List.of(key.published()));
    String digest = "9".repeat(64);
    SignedManifest signed = ManifestsForTest.sign(ArchiveManifest.newBuilder().setVmId("vm-1")
        .setArchiveSha256(digest).build().toByteArray(), key);
    assertDoesNotThrow(() -> verifier.verifyArchive("vm-1", "sha256:" + digest, signed));
    ImageException otherVm = assertThrows(ImageException.class,
        () -> verifier.verifyArchive("vm-2", "sha256:" + digest, signed));
    assertTrue(otherVm.getMessage().contains("vm id 'vm-2'"), otherVm.getMessage());
    String swapped = "sha256:" + "8".repeat(64);
    ImageException otherArchive = assertThrows(ImageException.class,
        () -> verifier.verifyArchive("vm-1", swapped, signed));
    assertTrue(otherArchive.getMessage().contains(swapped), otherArchive.getMessage());
  }

  @Test
  void aHostWithPinnedKeysIgnoresKeysTheControllerOffers() throws Exception {
    ManifestsForTest.Key pinnedKey = ManifestsForTest.newKey();
    ManifestsForTest.Key offered = ManifestsForTest.newKey();
    ManifestVerifier verifier =
        ManifestVerifier.pinnedTo(List.of(pinnedKey.pair().getPublic().getEncoded()));
    verifier.trust(List.of(offered.published()));

    assertDoesNotThrow(() -> verifier.verifyImage(ManifestsForTest.signed(WEB, pinnedKey)));
    ImageException e = refused(verifier, ManifestsForTest.signed(WEB, offered));
    assertTrue(e.getMessage().contains(offered.id()) && e.getMessage().contains("does not trust"),
        e.getMessage());
  }
}
