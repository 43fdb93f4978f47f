package org.servicefarm.controller.images.manifests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.api.v1.SignedManifest;
import org.servicefarm.controller.model.ImageRecord;

/** The controller's signing keys on disk, and signatures made and checked with them. */
class ManifestKeyringTest {
  @TempDir
  Path dataDir;

  private static final ImageRecord IMAGE = new ImageRecord(UUID.randomUUID(), "web",
      "a".repeat(64), 4096, "qcow2", null, "1".repeat(64), "READY", null, "c".repeat(64),
      "d".repeat(64), "console=ttyS0", null, null, null, "b".repeat(64), 8192);

  @Test
  void theFirstStartMakesAKeyReadableByTheControllerOnlyAndLaterStartsKeepIt() throws Exception {
    String first = ManifestKeyring.open(dataDir).current().keyId();
    assertEquals(first, ManifestKeyring.open(dataDir).current().keyId());
    Path privateKey = dataDir.resolve(ManifestKeyring.DIRECTORY).resolve(first + ".key");
    assertEquals("rw-------",
        PosixFilePermissions.toString(Files.getPosixFilePermissions(privateKey)));
    assertEquals("rwx------", PosixFilePermissions.toString(
        Files.getPosixFilePermissions(privateKey.getParent())));
    assertEquals(first, ManifestKeyring.keyId(
        ManifestKeyring.open(dataDir).current().publicKey().getEncoded()));
  }

  @Test
  void aSignedManifestVerifiesWithItsKeyAndNotWithAnother() throws Exception {
    ManifestKeyring keyring = ManifestKeyring.open(dataDir);
    ManifestKeyring.SigningKey key = keyring.current();
    SignedManifest signed = ManifestSignatures.sign(
        ManifestSignatures.encode(ManifestSignatures.manifestOf(IMAGE)), key);
    assertEquals(key.keyId(), signed.getKeyId());
    assertTrue(ManifestSignatures.verifies(signed, key.publicKey()));
    keyring.rotate();
    assertFalse(ManifestSignatures.verifies(signed, keyring.current().publicKey()));
  }

  @Test
  void anAlteredManifestFieldNoLongerVerifies() throws Exception {
    ManifestKeyring.SigningKey key = ManifestKeyring.open(dataDir).current();
    SignedManifest signed = ManifestSignatures.sign(
        ManifestSignatures.encode(ManifestSignatures.manifestOf(IMAGE)), key);
    var altered = ManifestSignatures.manifestOf(IMAGE).toBuilder()
        .setKernelCmdline("console=ttyS0 init=/bin/sh").build();
    SignedManifest tampered = signed.toBuilder().setManifest(altered.toByteString()).build();
    assertFalse(ManifestSignatures.verifies(tampered, key.publicKey()));
  }

  @Test
  void rotationMakesANewCurrentKeyAndKeepsThePreviousOneToVerifyWhatItSigned() throws Exception {
    ManifestKeyring keyring = ManifestKeyring.open(dataDir);
    ManifestKeyring.SigningKey previous = keyring.current();
    SignedManifest signedBefore = ManifestSignatures.sign(
        ManifestSignatures.encode(ManifestSignatures.manifestOf(IMAGE)), previous);

    String rotated = keyring.rotate();

    assertNotEquals(previous.keyId(), rotated);
    assertEquals(rotated, ManifestKeyring.open(dataDir).current().keyId());
    var kept = keyring.all().stream().filter(k -> k.keyId().equals(previous.keyId())).findFirst()
        .orElseThrow();
    assertArrayEquals(previous.publicKey().getEncoded(), kept.publicKey().getEncoded());
    assertTrue(ManifestSignatures.verifies(signedBefore, kept.publicKey()));
    assertEquals(2, keyring.all().size());
  }

  @Test
  void theEncodingOfAManifestIsTheSameEveryTime() {
    assertArrayEquals(ManifestSignatures.encode(ManifestSignatures.manifestOf(IMAGE)),
        ManifestSignatures.encode(ManifestSignatures.manifestOf(IMAGE)));
  }
}
