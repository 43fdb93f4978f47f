package org.servicefarm.controller.hosts;

import java.util.List;
import java.util.UUID;
import org.servicefarm.controller.model.VmRecord;

/**
 * What hosts tell the layer that drives VMs (implemented by reconcile's Reconciler, which hosts
 * must not import) when VMs change under them: a port owned here so the dependency points down.
 */
public interface VmChanges {
  /** Drives these VMs toward their desired states now. */
  void drive(List<UUID> vmIds);

  /** The VM's row changed (e.g. it went UNKNOWN with its host): whoever waits on it hears. */
  void changed(VmRecord vm);
}
