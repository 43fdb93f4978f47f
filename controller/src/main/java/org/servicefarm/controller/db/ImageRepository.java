package org.servicefarm.controller.db;

import java.sql.Array;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.servicefarm.controller.model.ImageRecord;

/** The image catalog ({@code images}). */
public final class ImageRepository {
  private static final String COLUMNS =
      "id, name, sha256, size_bytes, format, source_path, input_hash, build_state, created_at,"
          + " kernel_sha256, initrd_sha256, kernel_cmdline, build_error, build_started_at, project,"
          + " base_layer_sha256, base_layer_size_bytes";

  private static final Database.RowMapper<ImageRecord> MAPPER =
      rs ->
          new ImageRecord(
              Rows.uuid(rs, "id"),
              rs.getString("name"),
              rs.getString("sha256"),
              rs.getLong("size_bytes"),
              rs.getString("format"),
              rs.getString("source_path"),
              rs.getString("input_hash"),
              rs.getString("build_state"),
              Rows.instant(rs, "created_at"),
              rs.getString("kernel_sha256"),
              rs.getString("initrd_sha256"),
              rs.getString("kernel_cmdline"),
              rs.getString("build_error"),
              Rows.instant(rs, "build_started_at"),
              rs.getString("project"),
              rs.getString("base_layer_sha256"),
              rs.getLong("base_layer_size_bytes"));

  /** What a composed image is made of, as a service definition that uses it says. */
  public record Composition(String definition, List<String> packages, String command) {}

  /**
   * What a finished build produced: the disk (a service layer), the kernel and initrd it boots
   * with, and the base layer the disk is backed by.
   */
  public record BuiltImage(String sha256, long sizeBytes, String kernelSha256, String initrdSha256,
      String kernelCmdline, String baseLayerSha256, long baseLayerSizeBytes) {}

  /** Records a pre-constructed image; a name already taken is a constraint failure. */
  public ImageRecord register(
      Database.Tx tx, String name, String sha256, long sizeBytes, String format, String sourcePath)
      throws SQLException {
    return register(tx, name, sha256, sizeBytes, format, sourcePath, null);
  }

  /** As above, filed under {@code project} (null: an image every project may use). */
  public ImageRecord register(Database.Tx tx, String name, String sha256, long sizeBytes,
      String format, String sourcePath, String project) throws SQLException {
    return tx.query(
            "INSERT INTO images (id, name, sha256, size_bytes, format, source_path, build_state,"
                + " project) VALUES (?, ?, ?, ?, ?, ?, 'READY', ?) RETURNING " + COLUMNS,
            MAPPER,
            UUID.randomUUID(),
            name,
            sha256,
            sizeBytes,
            format,
            sourcePath,
            project)
        .get(0);
  }

  /**
   * The image composed from a package combination: the existing row for the inputs' hash, or a
   * new PENDING one. Concurrent callers with the same inputs get the same row.
   */
  public ImageRecord findOrRecordComposed(Database.Tx tx, String inputHash) throws SQLException {
    tx.update(
        "INSERT INTO images (id, name, size_bytes, format, input_hash, build_state)"
            // No conflict target: two definitions with the same packages, defined at once, race
            // on the name index as well as on input_hash, and the loser must simply use the row.
            + " VALUES (?, ?, 0, 'qcow2', ?, 'PENDING') ON CONFLICT DO NOTHING",
        UUID.randomUUID(),
        "composed-" + inputHash.substring(0, 16),
        inputHash);
    return tx.queryOne("SELECT " + COLUMNS + " FROM images WHERE input_hash = ?", MAPPER, inputHash)
        .orElseThrow(() -> new org.servicefarm.controller.model.FarmException.Conflict("an image named "
            + "composed-" + inputHash.substring(0, 16) + " exists and is not the composed image"
            + " of these packages; rename or delete it"));
  }

  /**
   * The image built from an OCI image archive with a command: the existing row for the inputs'
   * hash, or a new PENDING one that names the archive. As {@link #findOrRecordComposed}.
   */
  public ImageRecord findOrRecordFromOci(Database.Tx tx, UUID ociSourceId, String inputHash)
      throws SQLException {
    String name = "oci-" + inputHash.substring(0, 16);
    tx.update(
        "INSERT INTO images (id, name, size_bytes, format, input_hash, build_state, oci_source_id)"
            + " VALUES (?, ?, 0, 'qcow2', ?, 'PENDING', ?) ON CONFLICT DO NOTHING",
        UUID.randomUUID(),
        name,
        inputHash,
        ociSourceId);
    return tx.queryOne("SELECT " + COLUMNS + " FROM images WHERE input_hash = ?"
            + " AND oci_source_id = ?", MAPPER, inputHash, ociSourceId)
        .orElseThrow(() -> new org.servicefarm.controller.model.FarmException.Conflict(
            "an image named " + name + " exists and is not the one built from this OCI image"
                + " with this command; rename or delete it"));
  }

  /** The OCI image archive the image is built from; empty for every other image. */
  public Optional<ImageRecord> ociSource(Database.Tx tx, UUID imageId) throws SQLException {
    return tx.queryOne("SELECT " + COLUMNS + " FROM images WHERE id ="
        + " (SELECT oci_source_id FROM images WHERE id = ?)", MAPPER, imageId);
  }

  public Optional<ImageRecord> findByName(Database.Tx tx, String name) throws SQLException {
    return tx.queryOne("SELECT " + COLUMNS + " FROM images WHERE name = ?", MAPPER, name);
  }

  public Optional<ImageRecord> find(Database.Tx tx, UUID id) throws SQLException {
    return tx.queryOne("SELECT " + COLUMNS + " FROM images WHERE id = ?", MAPPER, id);
  }

  /**
   * Each image's name as a definition that uses it was given it: the archive's name for an
   * image built from an OCI image archive, otherwise the image's own.
   */
  public java.util.Map<UUID, String> namesForDefinitions(Database db) {
    java.util.Map<UUID, String> names = new java.util.HashMap<>();
    db.query("SELECT i.id, COALESCE(s.name, i.name) AS name FROM images i"
            + " LEFT JOIN images s ON s.id = i.oci_source_id",
        rs -> java.util.Map.entry(Rows.uuid(rs, "id"), rs.getString("name")))
        .forEach(e -> names.put(e.getKey(), e.getValue()));
    return names;
  }

  public List<ImageRecord> list(Database db) {
    return db.query("SELECT " + COLUMNS + " FROM images ORDER BY name", MAPPER);
  }

  /**
   * Claims the build of a composed image for the caller: PENDING or FAILED rows, and BUILDING rows
   * whose claim is older than {@code staleAfter} (their builder is presumed dead). The row guard
   * makes one of several concurrent claimants win; the others get empty. The returned row's
   * {@code buildStartedAt} is the claim's token for {@link #markReady} and {@link #markFailed}.
   */
  public Optional<ImageRecord> claimBuild(Database.Tx tx, UUID id, Duration staleAfter)
      throws SQLException {
    return tx.queryOne(
        "UPDATE images SET build_state = 'BUILDING', build_started_at = clock_timestamp()"
            + " WHERE id = ? AND input_hash IS NOT NULL AND (build_state IN ('PENDING', 'FAILED')"
            + " OR (build_state = 'BUILDING'"
            + " AND build_started_at < clock_timestamp() - make_interval(secs => ?)))"
            + " RETURNING " + COLUMNS,
        MAPPER,
        id,
        (double) staleAfter.toSeconds());
  }

  /**
   * Records a finished build, if the caller's claim still holds (a builder presumed dead and
   * overtaken finds its claim gone and changes nothing).
   */
  public Optional<ImageRecord> markReady(
      Database.Tx tx, UUID id, Instant claimedAt, BuiltImage built) throws SQLException {
    return tx.queryOne(
        "UPDATE images SET build_state = 'READY', sha256 = ?, size_bytes = ?, kernel_sha256 = ?,"
            + " initrd_sha256 = ?, kernel_cmdline = ?, build_error = NULL,"
            + " base_layer_sha256 = ?, base_layer_size_bytes = ?,"
            // Signed anew for what this build made (V19's columns).
            + " manifest = NULL, manifest_signature = NULL, manifest_key_id = NULL"
            + " WHERE id = ? AND build_state = 'BUILDING' AND build_started_at = ?"
            + " RETURNING " + COLUMNS,
        MAPPER,
        built.sha256(),
        built.sizeBytes(),
        built.kernelSha256(),
        built.initrdSha256(),
        built.kernelCmdline(),
        built.baseLayerSha256(),
        built.baseLayerSizeBytes(),
        id,
        claimedAt);
  }

  /** Records a failed build with its reason, if the caller's claim still holds. */
  public Optional<ImageRecord> markFailed(Database.Tx tx, UUID id, Instant claimedAt, String error)
      throws SQLException {
    return tx.queryOne(
        "UPDATE images SET build_state = 'FAILED', build_error = ?"
            + " WHERE id = ? AND build_state = 'BUILDING' AND build_started_at = ?"
            + " RETURNING " + COLUMNS,
        MAPPER,
        error,
        id,
        claimedAt);
  }

  /**
   * The packages and command of a composed image, from a definition that uses it. Every such
   * definition has the same ones (the image is keyed by their hash); the first by name is taken.
   * A deleted definition's row may be taken too (no join with {@code services}, see {@link
   * CatalogRepository}): it still holds the very inputs the image is keyed by, so it answers right.
   */
  public Optional<Composition> composition(Database.Tx tx, UUID imageId) throws SQLException {
    return tx.queryOne(
        "SELECT name, packages, command FROM service_definitions WHERE image_id = ?"
            + " ORDER BY name LIMIT 1",
        rs -> new Composition(rs.getString("name"), textArray(rs.getArray("packages")),
            rs.getString("command")),
        imageId);
  }

  private static List<String> textArray(Array array) throws SQLException {
    return array == null ? List.of() : Arrays.asList((String[]) array.getArray());
  }
}
