package org.servicefarm.controller.hosts;

import java.util.List;
import java.util.UUID;
import org.servicefarm.api.v1.DomainStatus;

/**
 * What hosts tell the layer that squares agents' inventories with the VM table (implemented in
 * reconcile, which hosts must not import): a port owned here so the dependency points down.
 */
public interface InventoryListener {
  /**
   * Squares the domains a host reported with the table; returns the VMs whose state changed.
   *
   * @param wholeInventory true for a registration's full inventory, false for a load report's
   */
  List<UUID> apply(String hostId, List<DomainStatus> domains, boolean wholeInventory);

  /**
   * Whether the host's last report changed nothing and none of its VMs changed since: a report
   * of the same domains needs no database.
   */
  boolean steady(String hostId);

  /** The host's VMs changed (it went DOWN): its next report is squared with the table again. */
  void hostChanged(String hostId);

  /** The leader's tick: look for VM changes made elsewhere since the last one. */
  void noteChanges();
}
