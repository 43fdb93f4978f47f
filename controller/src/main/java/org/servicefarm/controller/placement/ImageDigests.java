package org.servicefarm.controller.placement;

import java.sql.SQLException;
import java.util.UUID;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ImageRepository;
import org.servicefarm.controller.model.ImageRecord;

/**
 * What placement needs to know of a VM's image: its disk's digest (null before it is built), so
 * hosts whose cache holds it are preferred, and its size, so a host without room for it is not
 * chosen. An interface so a test can say what the catalog holds without one.
 */
public interface ImageDigests {
  String digest(Database.Tx tx, UUID imageId) throws SQLException;

  /** The image's disk size in bytes (0 before it is built or when unknown). */
  long sizeBytes(Database.Tx tx, UUID imageId) throws SQLException;

  /** The images as the catalog's table records them. */
  static ImageDigests of(ImageRepository images) {
    return new ImageDigests() {
      @Override
      public String digest(Database.Tx tx, UUID imageId) throws SQLException {
        return images.find(tx, imageId).map(ImageRecord::sha256).orElse(null);
      }

      @Override
      public long sizeBytes(Database.Tx tx, UUID imageId) throws SQLException {
        return images.find(tx, imageId).map(ImageRecord::sizeBytes).orElse(0L);
      }
    };
  }
}
