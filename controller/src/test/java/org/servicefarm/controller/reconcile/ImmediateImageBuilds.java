package org.servicefarm.controller.reconcile;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ImageRepository;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.ImageRecord;

/**
 * Image builds without the image constructor (which runs build tools on the controller's host):
 * a composed image still PENDING is recorded READY at once with a made-up disk, through the
 * catalog's own claim and finish; or every build fails with the reason a test gives, as the
 * constructor reports a failed build. Remembers which images it was asked to make ready.
 */
final class ImmediateImageBuilds implements ReconcileSteps.ImageBuilds {
  private final Database db;
  private final ImageRepository images;
  private final List<UUID> asked = new CopyOnWriteArrayList<>();
  private volatile String failure;

  ImmediateImageBuilds(Database db, ImageRepository images) {
    this.db = db;
    this.images = images;
  }

  /** Every build from now on fails with this reason. */
  ImmediateImageBuilds failingWith(String reason) {
    failure = reason;
    return this;
  }

  /** The images steps asked to make ready, oldest first. */
  List<UUID> asked() {
    return List.copyOf(asked);
  }

  @Override
  public void ensureReady(UUID imageId) {
    asked.add(imageId);
    if (failure != null) {
      throw new FarmException.Unavailable(failure);
    }
    db.inTransaction(tx -> {
      Optional<ImageRecord> claimed = images.claimBuild(tx, imageId, Duration.ofHours(1));
      if (claimed.isPresent()) { // a registered image, or one built already, needs nothing
        images.markReady(tx, imageId, claimed.get().buildStartedAt(),
            new ImageRepository.BuiltImage(StepFarm.digestOf("built " + imageId), 4096,
                StepFarm.digestOf("kernel"), StepFarm.digestOf("initrd"), "console=ttyS0",
                null, 0));
      }
      return claimed;
    });
  }
}
