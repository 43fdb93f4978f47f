package org.servicefarm.controller.images.manifests;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.logging.Logger;
import org.servicefarm.api.v1.ArchiveManifest;
import org.servicefarm.api.v1.ManifestKey;
import org.servicefarm.api.v1.SignedManifest;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ImageRepository;
import org.servicefarm.controller.db.ManifestRepository;
import org.servicefarm.controller.model.ImageRecord;

/**
 * Signs image and archive manifests with this controller's current key and hands out the ones
 * stored. An image is signed when a command first needs its manifest, or at the leader's start
 * (images made before manifests existed), whichever comes first; from then on its manifest is
 * what agents check the row's digests against. After a key rotation, manifests signed by an
 * earlier key are re-signed from their own verified bytes, never from the row.
 */
public final class ManifestService {
  private static final Logger LOG = Logger.getLogger(ManifestService.class.getName());

  private final Database db;
  private final ManifestRepository manifests;
  private final ManifestKeyring keyring;
  private final ManifestKeyring.SigningKey current;

  public ManifestService(Database db, ManifestRepository manifests, ManifestKeyring keyring) {
    this.db = db;
    this.manifests = manifests;
    this.keyring = keyring;
    try {
      this.current = keyring.current();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the manifest-signing key", e);
    }
  }

  /** The id of the key new manifests are signed with. */
  public String currentKeyId() {
    return current.keyId();
  }

  /** Publishes this controller's public keys, so every controller's agents trust them. */
  public void publishKeys() {
    try {
      List<ManifestKeyring.SigningKey> keys = keyring.all();
      db.inTransaction(tx -> {
        for (ManifestKeyring.SigningKey key : keys) {
          manifests.publishKey(tx, key.keyId(), key.publicKey().getEncoded());
        }
        return null;
      });
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the manifest-signing keys", e);
    }
  }

  /** Every published key: what an agent is told to trust at registration. */
  public List<ManifestKey> trustedKeys() {
    return manifests.publishedKeys(db).stream()
        .map(k -> ManifestKey.newBuilder().setKeyId(k.keyId())
            .setPublicKey(ByteString.copyFrom(k.publicKey())).build())
        .toList();
  }

  /** The image's signed manifest, signing it now if it has none yet. */
  public SignedManifest forImage(Database.Tx tx, ImageRecord image) throws SQLException {
    var stored = manifests.imageManifest(tx, image.id());
    if (stored.isPresent()) {
      return toProto(stored.get());
    }
    byte[] bytes = ManifestSignatures.encode(ManifestSignatures.manifestOf(image));
    return toProto(manifests.recordImageManifest(tx, image.id(),
        fromProto(ManifestSignatures.sign(bytes, current))));
  }

  /** The archive's signed manifest, signing it now if the VM's row has none for this archive. */
  public SignedManifest forArchive(Database.Tx tx, UUID vmId, String archiveRef)
      throws SQLException {
    var stored = manifests.archiveManifest(tx, vmId, archiveRef);
    String digest = archiveRef.startsWith("sha256:") ? archiveRef.substring(7) : archiveRef;
    if (stored.isPresent() && describes(stored.get(), vmId, digest)) {
      return toProto(stored.get());
    }
    SignedManifest signed = ManifestSignatures.sign(ManifestSignatures.encode(
        ManifestSignatures.archiveManifest(vmId.toString(), digest)), current);
    manifests.recordArchiveManifest(tx, vmId, archiveRef, fromProto(signed));
    return signed;
  }

  /** Signs the manifest of every ready image that has none (made before manifests existed). */
  public int signUnsignedImages(ImageRepository images) {
    int signed = 0;
    for (UUID id : manifests.unsignedReadyImages(db)) {
      signed += db.inTransaction(tx -> {
        var image = images.find(tx, id);
        if (image.isEmpty() || !image.get().ready()) {
          return 0;
        }
        forImage(tx, image.get());
        return 1;
      });
    }
    if (signed > 0) {
      LOG.info("signed the manifests of " + signed + " image(s) made before manifests existed");
    }
    return signed;
  }

  /**
   * Re-signs with the current key every image manifest an earlier key signed, after checking
   * the earlier signature: a manifest whose signature does not verify is left as it is (agents
   * refuse it, naming the image) and logged.
   */
  public int resignWithCurrentKey() {
    Map<String, PublicKey> published = new HashMap<>();
    for (ManifestRepository.PublishedKey key : manifests.publishedKeys(db)) {
      try {
        published.put(key.keyId(), ManifestSignatures.publicKey(key.publicKey()));
      } catch (GeneralSecurityException e) {
        LOG.warning("published manifest key " + key.keyId() + " is not an Ed25519 key: " + e);
      }
    }
    List<UUID> resigned = new ArrayList<>();
    for (ManifestRepository.ImageManifestRow row :
        manifests.imageManifestsNotSignedBy(db, current.keyId())) {
      SignedManifest old = toProto(row.manifest());
      PublicKey oldKey = published.get(old.getKeyId());
      if (oldKey == null || !ManifestSignatures.verifies(old, oldKey)) {
        LOG.warning("the manifest of image " + row.imageId() + " does not verify with key "
            + old.getKeyId() + "; it is not re-signed");
        continue;
      }
      SignedManifest renewed =
          ManifestSignatures.sign(old.getManifest().toByteArray(), current);
      if (db.inTransaction(tx -> manifests.replaceImageSignature(tx, row.imageId(),
          row.manifest(), fromProto(renewed)))) {
        resigned.add(row.imageId());
      }
    }
    if (!resigned.isEmpty()) {
      LOG.info("re-signed " + resigned.size() + " image manifest(s) with key " + current.keyId());
    }
    return resigned.size();
  }

  private static boolean describes(ManifestRepository.Stored stored, UUID vmId, String digest) {
    try {
      ArchiveManifest archive = ArchiveManifest.parseFrom(stored.manifest());
      return archive.getVmId().equals(vmId.toString()) && archive.getArchiveSha256().equals(digest);
    } catch (InvalidProtocolBufferException e) {
      return false; // signed anew below
    }
  }

  static SignedManifest toProto(ManifestRepository.Stored stored) {
    return SignedManifest.newBuilder()
        .setManifest(ByteString.copyFrom(stored.manifest()))
        .setSignature(ByteString.copyFrom(stored.signature()))
        .setKeyId(stored.keyId())
        .build();
  }

  static ManifestRepository.Stored fromProto(SignedManifest signed) {
    return new ManifestRepository.Stored(signed.getManifest().toByteArray(),
        signed.getSignature().toByteArray(), signed.getKeyId());
  }
}
