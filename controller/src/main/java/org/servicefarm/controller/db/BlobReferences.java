package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which blobs of the image store the farm's rows refer to, and as what. A blob is referenced
 * while: an image that a service definition (deleted ones too: their VMs may come back) or a VM
 * that is not DELETED uses has it as disk, kernel, initrd or base layer; a registered image (one
 * an operator put in the catalog) has it; a base layer is made of it (disk, tree, kernel,
 * initrd: new service layers build on them); or a VM that is not DELETED has it as its archive.
 * Everything else (an image's superseded build, the archives of deleted VMs and the ones a VM
 * archived again replaced, layers no definition uses any more) may be collected.
 */
public final class BlobReferences {
  private static final String USED_IMAGES = "SELECT * FROM images i WHERE i.input_hash IS NULL"
      + " OR EXISTS (SELECT 1 FROM service_definitions d WHERE d.image_id = i.id)"
      + " OR EXISTS (SELECT 1 FROM vms v WHERE v.image_id = i.id AND v.state <> 'DELETED')";

  /** Digests referenced now, each with what refers to it (disk, kernel, base layer, archive …). */
  public Map<String, String> all(Database.Tx tx) throws SQLException {
    Map<String, String> kinds = new HashMap<>();
    tx.query("WITH used AS (" + USED_IMAGES + ")"
            + " SELECT sha256 AS blob, 'image' AS kind FROM used WHERE sha256 IS NOT NULL"
            + " UNION ALL SELECT kernel_sha256, 'kernel' FROM used WHERE kernel_sha256 IS NOT NULL"
            + " UNION ALL SELECT initrd_sha256, 'initrd' FROM used WHERE initrd_sha256 IS NOT NULL"
            + " UNION ALL SELECT base_layer_sha256, 'base_layer' FROM used"
            + "   WHERE base_layer_sha256 IS NOT NULL"
            + " UNION ALL SELECT disk_sha256, 'base_layer' FROM base_layers"
            + " UNION ALL SELECT tree_sha256, 'base_tree' FROM base_layers"
            + " UNION ALL SELECT kernel_sha256, 'kernel' FROM base_layers"
            + " UNION ALL SELECT initrd_sha256, 'initrd' FROM base_layers"
            + " UNION ALL SELECT substring(archive_ref FROM 8), 'archive' FROM vms"
            + "   WHERE state <> 'DELETED' AND archive_ref LIKE 'sha256:%'",
        rs -> new String[] {rs.getString("blob"), rs.getString("kind")})
        .forEach(row -> kinds.putIfAbsent(row[0], row[1]));
    return kinds;
  }

  /** Which of these blobs are referenced now: asked again right before they are removed. */
  public Set<String> referencedAmong(Database.Tx tx, List<String> sha256s) throws SQLException {
    return new HashSet<>(tx.query("WITH used AS (" + USED_IMAGES + "), wanted AS (SELECT unnest(?::text[]) AS blob)"
            + " SELECT w.blob FROM wanted w WHERE EXISTS ("
            + " SELECT 1 FROM used WHERE w.blob IN (sha256, kernel_sha256, initrd_sha256,"
            + "   base_layer_sha256))"
            + " OR EXISTS (SELECT 1 FROM base_layers WHERE w.blob IN (disk_sha256, tree_sha256,"
            + "   kernel_sha256, initrd_sha256))"
            + " OR EXISTS (SELECT 1 FROM vms WHERE state <> 'DELETED'"
            + "   AND archive_ref = 'sha256:' || w.blob)",
        rs -> rs.getString(1),
        (Object) tx.connection().createArrayOf("text", sha256s.toArray())));
  }
}
