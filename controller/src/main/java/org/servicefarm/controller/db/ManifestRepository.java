package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Signed manifests of images ({@code images.manifest*}) and archives ({@code
 * vms.archive_manifest*}), and the public keys they are signed with ({@code manifest_keys}).
 */
public final class ManifestRepository {

  /** Manifest bytes as signed, the signature, and the id of the key that made it. */
  public record Stored(byte[] manifest, byte[] signature, String keyId) {}

  /** A published public key (X.509 DER). */
  public record PublishedKey(String keyId, byte[] publicKey) {}

  /** An image's signed manifest, with the image's id. */
  public record ImageManifestRow(UUID imageId, Stored manifest) {}

  private static final Database.RowMapper<Optional<Stored>> IMAGE_MAPPER = rs -> {
    byte[] manifest = rs.getBytes("manifest");
    return manifest == null ? Optional.empty() : Optional.of(new Stored(manifest,
        rs.getBytes("manifest_signature"), rs.getString("manifest_key_id")));
  };

  /** Publishes a key so every controller tells its agents of it; publishing again is a no-op. */
  public void publishKey(Database.Tx tx, String keyId, byte[] publicKey) throws SQLException {
    tx.update("INSERT INTO manifest_keys (key_id, public_key) VALUES (?, ?)"
        + " ON CONFLICT (key_id) DO NOTHING", keyId, publicKey);
  }

  public List<PublishedKey> publishedKeys(Database db) {
    return db.query("SELECT key_id, public_key FROM manifest_keys ORDER BY published_at, key_id",
        rs -> new PublishedKey(rs.getString("key_id"), rs.getBytes("public_key")));
  }

  public Optional<Stored> imageManifest(Database.Tx tx, UUID imageId) throws SQLException {
    return tx.queryOne("SELECT manifest, manifest_signature, manifest_key_id FROM images"
        + " WHERE id = ?", IMAGE_MAPPER, imageId).flatMap(m -> m);
  }

  /**
   * Records an image's manifest unless one is recorded already (a concurrent first use signed
   * it first), and returns the one recorded.
   */
  public Stored recordImageManifest(Database.Tx tx, UUID imageId, Stored manifest)
      throws SQLException {
    tx.update("UPDATE images SET manifest = ?, manifest_signature = ?, manifest_key_id = ?"
        + " WHERE id = ? AND manifest IS NULL", manifest.manifest(), manifest.signature(),
        manifest.keyId(), imageId);
    return imageManifest(tx, imageId).orElseThrow(() -> new SQLException(
        "image " + imageId + " vanished while its manifest was recorded"));
  }

  /** Images whose manifest a key other than {@code keyId} signed: the ones to re-sign. */
  public List<ImageManifestRow> imageManifestsNotSignedBy(Database db, String keyId) {
    return db.query("SELECT id, manifest, manifest_signature, manifest_key_id FROM images"
        + " WHERE manifest IS NOT NULL AND manifest_key_id <> ?",
        rs -> new ImageManifestRow(Rows.uuid(rs, "id"), IMAGE_MAPPER.map(rs).orElseThrow()), keyId);
  }

  /** Replaces a manifest's signature, only if the manifest is still the one re-signed. */
  public boolean replaceImageSignature(Database.Tx tx, UUID imageId, Stored previous,
      Stored resigned) throws SQLException {
    return tx.update("UPDATE images SET manifest_signature = ?, manifest_key_id = ?"
        + " WHERE id = ? AND manifest = ? AND manifest_key_id = ?", resigned.signature(),
        resigned.keyId(), imageId, previous.manifest(), previous.keyId()) == 1;
  }

  /** Images with no manifest yet (made before manifests were signed), by id. */
  public List<UUID> unsignedReadyImages(Database db) {
    return db.query("SELECT id FROM images WHERE manifest IS NULL AND build_state = 'READY'",
        rs -> Rows.uuid(rs, "id"));
  }

  public Optional<Stored> archiveManifest(Database.Tx tx, UUID vmId, String archiveRef)
      throws SQLException {
    return tx.queryOne("SELECT archive_manifest, archive_manifest_signature,"
        + " archive_manifest_key_id FROM vms WHERE id = ? AND archive_ref = ?"
        + " AND archive_manifest IS NOT NULL",
        rs -> new Stored(rs.getBytes("archive_manifest"),
            rs.getBytes("archive_manifest_signature"), rs.getString("archive_manifest_key_id")),
        vmId, archiveRef);
  }

  /** Records the manifest of the VM's archive, while the VM still names that archive. */
  public void recordArchiveManifest(Database.Tx tx, UUID vmId, String archiveRef, Stored manifest)
      throws SQLException {
    tx.update("UPDATE vms SET archive_manifest = ?, archive_manifest_signature = ?,"
        + " archive_manifest_key_id = ? WHERE id = ? AND archive_ref = ?", manifest.manifest(),
        manifest.signature(), manifest.keyId(), vmId, archiveRef);
  }
}
