package org.servicefarm.controller.broker;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.Collectors;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.DesiredState;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.reconcile.Reconciler;

/**
 * Deletes a service definition: its services leave the catalog (see {@link CatalogRepository}),
 * and with force its VMs are deleted too. Without force, a definition that still has VMs is
 * refused, so nobody loses a VM by deleting its definition by mistake.
 */
public final class DefinitionDeletion {
  /** VM ids a refusal names before it says "and N more". */
  private static final int IDS_SHOWN = 5;

  private final Database db;
  private final CatalogRepository catalog;
  private final VmRepository vms;
  private final Reconciler reconciler;

  public DefinitionDeletion(Database db, CatalogRepository catalog, VmRepository vms,
      Reconciler reconciler) {
    this.db = db;
    this.catalog = catalog;
    this.vms = vms;
    this.reconciler = reconciler;
  }

  /** What a deletion did: the VMs it set to be deleted (none without force). */
  public record Deleted(String name, List<UUID> deletedVmIds) {}

  /**
   * @throws FarmException.NotFound when no definition of that name is in the catalog
   * @throws FarmException.Conflict without force, when VMs of the definition are not yet deleted
   *     or being deleted
   */
  public Deleted delete(String name, boolean force) {
    Deleted deleted = db.inTransaction(tx -> {
      // The requests' and the idle ladder's key, exclusive: none of them creates, wakes or answers
      // with a VM of the definition until this commits, and then none finds the definition.
      tx.advisoryLock("definition:" + name);
      if (!catalog.lockIfDefined(tx, name)) {
        throw new FarmException.NotFound("no service definition named '" + name
            + "' is in the catalog (farmctl service list shows the definitions)");
      }
      List<VmRecord> remaining = remainingVms(tx, name);
      if (!remaining.isEmpty() && !force) {
        throw new FarmException.Conflict(refusal(name, remaining));
      }
      List<UUID> ids = new ArrayList<>();
      for (VmRecord vm : remaining) {
        ids.add(vms.setDesired(tx, vm, DesiredState.DELETED,
            "service definition " + name + " deleted").id());
      }
      catalog.removeServices(tx, name);
      return new Deleted(name, List.copyOf(ids));
    });
    // After the commit, so the reconciler reads the desired state this call wrote.
    deleted.deletedVmIds().forEach(reconciler::kick);
    return deleted;
  }

  /**
   * The definition's VMs that are neither deleted nor failed nor already being deleted, locked so
   * an admin action or the reconciler cannot change them between this read and the write.
   */
  private List<VmRecord> remainingVms(Database.Tx tx, String name) throws SQLException {
    List<VmRecord> remaining = new ArrayList<>();
    for (VmRecord vm : vms.ofDefinition(tx, name)) {
      VmRecord locked = vms.lock(tx, vm.id()).orElseThrow();
      if (!locked.state().isFinal() && locked.desiredState() != DesiredState.DELETED) {
        remaining.add(locked);
      }
    }
    return remaining;
  }

  private static String refusal(String name, List<VmRecord> remaining) {
    String ids = remaining.stream().limit(IDS_SHOWN).map(vm -> vm.id().toString())
        .collect(Collectors.joining(", "));
    if (remaining.size() > IDS_SHOWN) {
      ids += " and " + (remaining.size() - IDS_SHOWN) + " more";
    }
    return "cannot delete service definition '" + name + "': it has " + remaining.size()
        + (remaining.size() == 1 ? " VM" : " VMs") + " (" + ids + "); delete "
        + (remaining.size() == 1 ? "it" : "them") + " first (farmctl vm delete VM_ID), or delete"
        + " the definition with force (farmctl service delete " + name + " --force)";
  }
}
