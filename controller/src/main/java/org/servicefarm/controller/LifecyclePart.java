package org.servicefarm.controller;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Clock;
import org.servicefarm.controller.api.StatusMapper;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ReclaimRepository;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.hosts.HostDrainer;
import org.servicefarm.controller.hosts.HostTracker;
import org.servicefarm.controller.images.BlobStorage;
import org.servicefarm.controller.images.ImageConstructor;
import org.servicefarm.controller.images.manifests.ManifestKeyring;
import org.servicefarm.controller.images.manifests.ManifestService;
import org.servicefarm.controller.lifecycle.IdleLadder;
import org.servicefarm.controller.metrics.ControllerMetrics;
import org.servicefarm.controller.operations.OperationTracker;
import org.servicefarm.controller.reconcile.CommandFactory;
import org.servicefarm.controller.reconcile.InventoryReconciler;
import org.servicefarm.controller.reconcile.OfferRecorder;
import org.servicefarm.controller.reconcile.OrphanPolicy;
import org.servicefarm.controller.reconcile.ReconcileSteps;
import org.servicefarm.controller.reconcile.Reconciler;
import org.servicefarm.controller.reconcile.VmStateWatcher;

/**
 * The controller's part that drives VMs and hosts as the leader: the reconciler with its step
 * executors, the images they build, agents' inventories and liveness, drains, and the idle
 * ladder. Every write here goes through the fenced database.
 */
final class LifecyclePart implements AutoCloseable {
  final VmStateWatcher watcher = new VmStateWatcher();
  final OperationTracker operations;
  final ImageConstructor images;
  final Reconciler reconciler;
  final HostDrainer drainer;
  final HostTracker hostTracker;
  final IdleLadder idleLadder;
  final ManifestService manifests;

  LifecyclePart(PersistencePart p, PlacementPart placement, AgentRegistry agents,
      ControllerConfig config, Path dataDir, BlobStorage blobs, ControllerMetrics metrics) {
    Database db = p.db;
    this.operations = new OperationTracker(db, p.operations, StatusMapper::toStatus,
        metrics::operationFinished);
    this.images = new ImageConstructor(db, p.images, blobs,
        config.images().constructorSettings(dataDir), metrics::imageComposed);
    try {
      images.removeLeftoverBuilds();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot look for builds a stopped controller left in "
          + dataDir.resolve("build"), e);
    }
    try {
      this.manifests = new ManifestService(db, p.manifests, ManifestKeyring.open(dataDir));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the manifest-signing keys in "
          + dataDir.resolve(ManifestKeyring.DIRECTORY), e);
    }
    manifests.publishKeys();
    OfferRecorder offers = new OfferRecorder(p.catalog, p.vms);
    ReconcileSteps steps = new ReconcileSteps(p.leaderDb, p.vms,
        new CommandFactory(db, p.catalog, p.images, p.events, manifests), offers, agents, watcher,
        config.commandTimeout(), config.longCommandTimeout(), placement.digests,
        imageId -> images.ensureBuilt(
            db.inTransaction(tx -> p.images.find(tx, imageId)).orElseThrow()),
        operations, placement.restores, p.events, ref -> archiveBytes(blobs, ref));
    this.reconciler = new Reconciler(p.leaderDb, p.vms, steps, watcher, config.reconcileThreads(),
        new ReclaimRepository(), operations);
    this.drainer = new HostDrainer(p.leaderDb, p.hosts, p.vms, p.events, reconciler);
    InventoryReconciler inventory = new InventoryReconciler(p.leaderDb, p.vms, p.events, offers,
        watcher, new OrphanPolicy(config.orphans(), p.leaderDb, p.vms, p.events, agents,
            config.commandTimeout(), Clock.systemUTC()));
    this.hostTracker = new HostTracker(p.leaderDb, p.hosts, p.vms, p.events, inventory, agents,
        reconciler, config.livenessTimeout(), config.loadPersistInterval());
    this.idleLadder = new IdleLadder(p.leaderDb, p.catalog, p.vms, p.leases,
        placement.provisioner, reconciler);
  }

  /** An archive's size as the image store holds it ("sha256:DIGEST"); -1 for another form. */
  private static long archiveBytes(BlobStorage blobs, String archiveRef) {
    String prefix = "sha256:";
    if (archiveRef == null || !archiveRef.startsWith(prefix)) {
      return -1;
    }
    try {
      return blobs.stat(archiveRef.substring(prefix.length()))
          .map(org.servicefarm.controller.images.BlobStore.BlobInfo::sizeBytes).orElse(-1L);
    } catch (RuntimeException storeUnreachable) {
      // The archive is stored and recorded either way; only its count in the quota waits for
      // the VM's next archive.
      java.util.logging.Logger.getLogger(LifecyclePart.class.getName()).warning(
          "cannot read the size of archive " + archiveRef + ": " + storeUnreachable);
      return -1;
    }
  }

  @Override
  public void close() {
    reconciler.close();
  }
}
