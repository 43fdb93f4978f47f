package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** What OCI image archives' configs say to run and expose ({@code oci_images}). */
public final class OciImageRepository {
  /** An archive's defaults for a definition: its command and exposed TCP ports, ascending. */
  public record OciDefaults(String layout, String command, List<Integer> ports) {}

  public void record(Database.Tx tx, UUID imageId, OciDefaults defaults) throws SQLException {
    tx.update("INSERT INTO oci_images (image_id, layout, command, ports) VALUES (?, ?, ?, ?)",
        imageId, defaults.layout(), defaults.command(),
        tx.connection().createArrayOf("integer", defaults.ports().toArray()));
  }

  public Optional<OciDefaults> find(Database.Tx tx, UUID imageId) throws SQLException {
    return tx.queryOne("SELECT layout, command, ports FROM oci_images WHERE image_id = ?",
        rs -> new OciDefaults(rs.getString("layout"), rs.getString("command"),
            Arrays.asList((Integer[]) rs.getArray("ports").getArray())),
        imageId);
  }
}
