package org.servicefarm.controller.images.manifests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.security.PublicKey;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.api.v1.ArchiveManifest;
import org.servicefarm.api.v1.ImageManifest;
import org.servicefarm.api.v1.ManifestKey;
import org.servicefarm.api.v1.SignedManifest;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ImageRepository;
import org.servicefarm.controller.db.ManifestRepository;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgresForTests;
import org.servicefarm.controller.model.ImageRecord;

/** Image and archive manifests signed, stored and re-signed on a real PostgreSQL. */
class ManifestServiceTest {
  @TempDir
  Path dataDir;
  private Database db;
  private final ImageRepository images = new ImageRepository();
  private final ManifestRepository manifests = new ManifestRepository();

  @BeforeEach
  void migrate() {
    db = new Database(EmbeddedPostgresForTests.freshDatabase(), EmbeddedPostgresForTests.user(),
        "", 2);
    Migrations.migrate(db.dataSource());
  }

  @AfterEach
  void close() {
    db.close();
  }

  private ManifestService service() throws Exception {
    ManifestService service = new ManifestService(db, manifests, ManifestKeyring.open(dataDir));
    service.publishKeys();
    return service;
  }

  private ImageRecord register(String name) {
    return db.inTransaction(tx -> images.register(tx, name, "a".repeat(64), 4096, "qcow2", null));
  }

  private SignedManifest stored(UUID imageId) {
    return db.inTransaction(tx -> ManifestService.toProto(
        manifests.imageManifest(tx, imageId).orElseThrow()));
  }

  private PublicKey published(ManifestService service, String keyId) throws Exception {
    ManifestKey key = service.trustedKeys().stream().filter(k -> k.getKeyId().equals(keyId))
        .findFirst().orElseThrow(() -> new AssertionError("key " + keyId + " not published"));
    return ManifestSignatures.publicKey(key.getPublicKey().toByteArray());
  }

  @Test
  void anImageIsSignedOnFirstUseWithWhatItsRowSaysAndKeepsThatManifest() throws Exception {
    ManifestService service = service();
    ImageRecord image = register("web");

    SignedManifest signed = db.inTransaction(tx -> service.forImage(tx, image));

    assertTrue(ManifestSignatures.verifies(signed, published(service, signed.getKeyId())));
    ImageManifest manifest = ImageManifest.parseFrom(signed.getManifest());
    assertEquals(image.id().toString(), manifest.getImageId());
    assertEquals("a".repeat(64), manifest.getDiskSha256());
    assertEquals(4096, manifest.getDiskSizeBytes());
    // The row altered later: the manifest still says what was signed, so agents see the change.
    db.update("UPDATE images SET sha256 = ? WHERE id = ?", "e".repeat(64), image.id());
    ImageRecord altered = db.inTransaction(tx -> images.find(tx, image.id())).orElseThrow();
    SignedManifest again = db.inTransaction(tx -> service.forImage(tx, altered));
    assertArrayEquals(signed.toByteArray(), again.toByteArray());
  }

  @Test
  void readyImagesFromBeforeManifestsAreSignedWhenTheLeaderStarts() throws Exception {
    ManifestService service = service();
    ImageRecord first = register("old-one");
    ImageRecord second = register("old-two");

    assertEquals(2, service.signUnsignedImages(images));

    assertEquals(service.currentKeyId(), stored(first.id()).getKeyId());
    assertEquals(service.currentKeyId(), stored(second.id()).getKeyId());
    assertEquals(0, service.signUnsignedImages(images));
  }

  @Test
  void afterARotationBothKeysArePublishedAndOldManifestsAreReSignedFromTheirOwnBytes()
      throws Exception {
    ManifestService before = service();
    ImageRecord image = register("web");
    SignedManifest old = db.inTransaction(tx -> before.forImage(tx, image));
    ManifestKeyring.open(dataDir).rotate();
    ManifestService after = service();
    assertNotEquals(before.currentKeyId(), after.currentKeyId());
    assertEquals(2, after.trustedKeys().size(), "the previous key must stay trusted");
    assertTrue(ManifestSignatures.verifies(stored(image.id()),
        published(after, before.currentKeyId())), "the old manifest stopped verifying");
    db.update("UPDATE images SET sha256 = ? WHERE id = ?", "e".repeat(64), image.id());

    assertEquals(1, after.resignWithCurrentKey());

    SignedManifest resigned = stored(image.id());
    assertEquals(after.currentKeyId(), resigned.getKeyId());
    assertEquals(old.getManifest(), resigned.getManifest(), "re-signing read the altered row");
    assertTrue(ManifestSignatures.verifies(resigned, published(after, after.currentKeyId())));
  }

  @Test
  void aManifestWhoseSignatureWasAlteredIsNotReSigned() throws Exception {
    ManifestService before = service();
    ImageRecord image = register("web");
    db.inTransaction(tx -> before.forImage(tx, image));
    db.update("UPDATE images SET manifest_signature = ? WHERE id = ?", new byte[64], image.id());
    ManifestKeyring.open(dataDir).rotate();

    assertEquals(0, service().resignWithCurrentKey());
    assertEquals(before.currentKeyId(), stored(image.id()).getKeyId());
  }

  @Test
  void eachArchiveOfAVmGetsAManifestNamingTheVmAndThatArchive() throws Exception {
    ManifestService service = service();
    ImageRecord image = register("web");
    UUID vmId = UUID.randomUUID();
    db.update("INSERT INTO service_definitions (name, image_id, vcpus, memory_mb)"
        + " VALUES ('web', ?, 1, 256)", image.id());
    db.update("INSERT INTO vms (id, definition, image_id, state, desired_state, vcpus,"
        + " memory_mb, archive_ref) VALUES (?, 'web', ?, 'ARCHIVED', 'ARCHIVED', 1, 256, ?)",
        vmId, image.id(), "sha256:" + "1".repeat(64));

    SignedManifest first = db.inTransaction(tx ->
        service.forArchive(tx, vmId, "sha256:" + "1".repeat(64)));
    db.update("UPDATE vms SET archive_ref = ? WHERE id = ?", "sha256:" + "2".repeat(64), vmId);
    SignedManifest second = db.inTransaction(tx ->
        service.forArchive(tx, vmId, "sha256:" + "2".repeat(64)));

    assertEquals("1".repeat(64), ArchiveManifest.parseFrom(first.getManifest()).getArchiveSha256());
    ArchiveManifest latest = ArchiveManifest.parseFrom(second.getManifest());
    assertEquals(vmId.toString(), latest.getVmId());
    assertEquals("2".repeat(64), latest.getArchiveSha256());
    assertTrue(ManifestSignatures.verifies(second, published(service, second.getKeyId())));
    assertFalse(first.getManifest().equals(second.getManifest()));
  }
}
