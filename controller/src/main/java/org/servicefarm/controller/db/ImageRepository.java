package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.servicefarm.controller.model.ImageRecord;

/** The image catalog ({@code images}). */
public final class ImageRepository {
  private static final String COLUMNS =
      "id, name, sha256, size_bytes, format, source_path, input_hash, build_state, created_at";

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
              Rows.instant(rs, "created_at"));

  /** Records a pre-constructed image; a name already taken is a constraint failure. */
  public ImageRecord register(
      Database.Tx tx, String name, String sha256, long sizeBytes, String format, String sourcePath)
      throws SQLException {
    return tx.query(
            "INSERT INTO images (id, name, sha256, size_bytes, format, source_path, build_state)"
                + " VALUES (?, ?, ?, ?, ?, ?, 'READY') RETURNING " + COLUMNS,
            MAPPER,
            UUID.randomUUID(),
            name,
            sha256,
            sizeBytes,
            format,
            sourcePath)
        .get(0);
  }

  /**
   * The image composed from a package combination: the existing row for the inputs' hash, or a
   * new PENDING one. Concurrent callers with the same inputs get the same row.
   */
  public ImageRecord findOrRecordComposed(Database.Tx tx, String inputHash) throws SQLException {
    tx.update(
        "INSERT INTO images (id, name, size_bytes, format, input_hash, build_state)"
            + " VALUES (?, ?, 0, 'qcow2', ?, 'PENDING') ON CONFLICT (input_hash) DO NOTHING",
        UUID.randomUUID(),
        "composed-" + inputHash.substring(0, 16),
        inputHash);
    return tx.queryOne("SELECT " + COLUMNS + " FROM images WHERE input_hash = ?", MAPPER, inputHash)
        .orElseThrow();
  }

  public Optional<ImageRecord> findByName(Database.Tx tx, String name) throws SQLException {
    return tx.queryOne("SELECT " + COLUMNS + " FROM images WHERE name = ?", MAPPER, name);
  }

  public Optional<ImageRecord> find(Database.Tx tx, UUID id) throws SQLException {
    return tx.queryOne("SELECT " + COLUMNS + " FROM images WHERE id = ?", MAPPER, id);
  }

  public List<ImageRecord> list(Database db) {
    return db.query("SELECT " + COLUMNS + " FROM images ORDER BY name", MAPPER);
  }
}
