package org.servicefarm.controller.reconcile;

import java.time.Duration;
import java.util.EnumSet;
import java.util.Optional;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.FencedDatabase;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/**
 * What becomes of a VM whose host lost its disk (a wiped state directory, a replaced host disk):
 * it comes back from its newest archive, and the event says how much it wrote since then that is
 * gone; with no archive it goes FAILED with the reason. Never a new empty disk in its place,
 * which would look like a working VM with its data silently gone (a stateless definition's VM is
 * installed anew instead, and never gets here: see {@link CommandFactory#install}).
 */
final class DiskLoss {
  private final FencedDatabase db;
  private final VmRepository vms;
  private final EventRepository events;
  private final OfferRecorder offers;
  private final VmStateWatcher watcher;

  DiskLoss(FencedDatabase db, VmRepository vms, EventRepository events, OfferRecorder offers,
      VmStateWatcher watcher) {
    this.db = db;
    this.vms = vms;
    this.events = events;
    this.offers = offers;
    this.watcher = watcher;
  }

  /**
   * Moves the VM (PROVISIONING on its host, which reported the disk gone) to ARCHIVED, from where
   * it is restored, or to FAILED; true when it moved.
   */
  boolean lost(VmRecord vm, String agentError) {
    String where = "disk lost on host " + vm.hostId() + " (" + agentError + ")";
    Optional<VmRecord> after = db.inTransaction(tx -> {
      if (vm.archiveRef() != null) {
        Optional<EventRepository.ArchiveTime> archived = events.lastArchived(tx, vm.id());
        Optional<VmRecord> moved = vms.transition(tx, vm.id(), EnumSet.of(VmState.PROVISIONING),
            VmState.ARCHIVED, where + "; restoring it from its newest archive"
                + archived.map(a -> " (" + a.at() + "): what it wrote in the "
                    + window(a.age()) + " since then is lost")
                    .orElse(": what it wrote since then is lost"),
            VmRepository.Change.archived(vm.archiveRef()));
        if (moved.isPresent()) {
          offers.clearHostPorts(tx, vm.id());
        }
        return moved;
      }
      String reason = where + "; it has no archive to restore from, and definition "
          + vm.definition() + " is not stateless, so no new disk is made in its place";
      return vms.transition(tx, vm.id(), EnumSet.of(VmState.PROVISIONING), VmState.FAILED,
          reason, VmRepository.Change.failed(reason));
    });
    after.ifPresent(watcher::publish);
    return after.isPresent();
  }

  /** "3 h 12 min", "4 min 5 s", "12 s": the data a restore from an archive this old loses. */
  static String window(Duration age) {
    long seconds = Math.max(0, age.getSeconds());
    long days = seconds / 86_400;
    long hours = seconds % 86_400 / 3600;
    long minutes = seconds % 3600 / 60;
    long secs = seconds % 60;
    if (days > 0) {
      return days + " d " + hours + " h";
    }
    if (hours > 0) {
      return hours + " h " + minutes + " min";
    }
    return minutes > 0 ? minutes + " min " + secs + " s" : secs + " s";
  }
}
