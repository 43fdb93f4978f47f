package org.servicefarm.controller.reconcile;

import java.util.List;
import org.servicefarm.api.v1.ArchiveVm;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.DeleteVm;
import org.servicefarm.api.v1.ImageRef;
import org.servicefarm.api.v1.InstallVm;
import org.servicefarm.api.v1.RestoreVm;
import org.servicefarm.api.v1.ResumeVm;
import org.servicefarm.api.v1.StartVm;
import org.servicefarm.api.v1.SuspendVm;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.ImageRepository;
import org.servicefarm.controller.images.manifests.ManifestService;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.ImageRecord;
import org.servicefarm.controller.model.ServiceDefinitionRecord;
import org.servicefarm.controller.model.VmRecord;

/**
 * Builds agent commands. Each is keyed by (vm id, generation) and its id names the step, so a
 * command resent after a lost answer is recognisably the same command.
 */
public final class CommandFactory {
  private final Database db;
  private final CatalogRepository catalog;
  private final ImageRepository images;
  private final EventRepository events;
  private final ManifestService manifests;

  public CommandFactory(Database db, CatalogRepository catalog, ImageRepository images,
      EventRepository events, ManifestService manifests) {
    this.db = db;
    this.catalog = catalog;
    this.images = images;
    this.events = events;
    this.manifests = manifests;
  }

  /** Signs the manifest of the archive a VM was just archived to, in the commit recording it. */
  void signArchive(Database.Tx tx, java.util.UUID vmId, String archiveRef)
      throws java.sql.SQLException {
    manifests.forArchive(tx, vmId, archiveRef);
  }

  /**
   * An install keeps the disk of a VM that has served (its domain was lost, not its data), so
   * the agent never lays a new disk over it; a lost disk is then reported, and restored from the
   * archive or failed. A stateless definition's VM without an archive may get a new disk.
   */
  Command install(VmRecord vm) {
    Spec spec = spec(vm);
    boolean keepDisk = hasRun(vm) && (!spec.stateless() || vm.archiveRef() != null);
    return base(vm, "install")
        .setInstall(
            InstallVm.newBuilder()
                .setImage(spec.image())
                .setVcpus(vm.vcpus())
                .setMemoryMb(vm.memoryMb())
                .addAllGuestPorts(spec.guestPorts())
                .setKeepDisk(keepDisk))
        .build();
  }

  /** Whether the VM has served, so its disk holds what it wrote. */
  boolean hasRun(VmRecord vm) {
    return db.inTransaction(tx -> events.everActive(tx, vm.id()));
  }

  Command restore(VmRecord vm) {
    Spec spec = spec(vm);
    RestoreVm.Builder restore = RestoreVm.newBuilder();
    if (vm.archiveRef() != null) {
      org.servicefarm.api.v1.SignedManifest archive =
          db.inTransaction(tx -> manifests.forArchive(tx, vm.id(), vm.archiveRef()));
      restore.setArchiveManifest(archive);
    }
    return base(vm, "restore")
        .setRestore(
            restore
                .setArchiveRef(vm.archiveRef() == null ? "" : vm.archiveRef())
                .setImage(spec.image())
                .setVcpus(vm.vcpus())
                .setMemoryMb(vm.memoryMb())
                .addAllGuestPorts(spec.guestPorts()))
        .build();
  }

  Command start(VmRecord vm) {
    return base(vm, "start").setStart(StartVm.getDefaultInstance()).build();
  }

  Command suspend(VmRecord vm) {
    return base(vm, "suspend").setSuspend(SuspendVm.getDefaultInstance()).build();
  }

  Command resume(VmRecord vm) {
    return base(vm, "resume").setResume(ResumeVm.getDefaultInstance()).build();
  }

  Command archive(VmRecord vm) {
    return base(vm, "archive").setArchive(ArchiveVm.getDefaultInstance()).build();
  }

  Command delete(VmRecord vm) {
    return base(vm, "delete").setDelete(DeleteVm.getDefaultInstance()).build();
  }

  /**
   * Removes an orphan domain (see {@link OrphanPolicy}). It has no VM row to take a generation
   * from, so it carries the one in the domain's metadata, which the agent does not find stale.
   */
  static Command deleteOrphan(String vmId, long generation) {
    return Command.newBuilder()
        .setCommandId(vmId + ":" + generation + ":delete-orphan")
        .setVmId(vmId)
        .setGeneration(generation)
        .setDelete(DeleteVm.getDefaultInstance())
        .build();
  }

  private static Command.Builder base(VmRecord vm, String step) {
    return Command.newBuilder()
        .setCommandId(vm.id() + ":" + vm.generation() + ":" + step)
        .setVmId(vm.id().toString())
        .setGeneration(vm.generation());
  }

  private record Spec(ImageRef image, List<Integer> guestPorts, boolean stateless) {}

  private Spec spec(VmRecord vm) {
    return db.inTransaction(
        tx -> {
          ServiceDefinitionRecord def =
              catalog.find(tx, vm.definition())
                  .orElseThrow(() -> new FarmException.NotFound(
                      "definition " + vm.definition() + " of VM " + vm.id() + " is gone"));
          ImageRecord image =
              images.find(tx, vm.imageId())
                  .orElseThrow(() -> new FarmException.NotFound(
                      "image " + vm.imageId() + " of VM " + vm.id() + " is gone"));
          ImageRef ref =
              ImageRef.newBuilder()
                  .setImageId(image.id().toString())
                  .setName(image.name())
                  .setSha256(image.sha256() == null ? "" : image.sha256())
                  .setFormat(image.format())
                  .setSizeBytes(image.sizeBytes())
                  .setSourcePath(image.sourcePath() == null ? "" : image.sourcePath())
                  .setKernelSha256(image.kernelSha256() == null ? "" : image.kernelSha256())
                  .setInitrdSha256(image.initrdSha256() == null ? "" : image.initrdSha256())
                  .setKernelCmdline(image.kernelCmdline() == null ? "" : image.kernelCmdline())
                  .setBaseLayerSha256(
                      image.baseLayerSha256() == null ? "" : image.baseLayerSha256())
                  .setBaseLayerSizeBytes(image.baseLayerSizeBytes())
                  .setManifest(manifests.forImage(tx, image))
                  .build();
          List<Integer> ports =
              def.services().stream().map(ServiceDefinitionRecord.ServicePort::guestPort).toList();
          return new Spec(ref, ports, def.policy().stateless());
        });
  }
}
