package org.servicefarm.controller.reconcile;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.servicefarm.api.v1.PortForward;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.model.ServiceDefinitionRecord;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmServiceRecord;

/**
 * Adds a running VM to the list of services offered: each service of its definition, reached on
 * the host port its host forwards to the service's guest port.
 */
public final class OfferRecorder {
  private final CatalogRepository catalog;
  private final VmRepository vms;

  public OfferRecorder(CatalogRepository catalog, VmRepository vms) {
    this.catalog = catalog;
    this.vms = vms;
  }

  public void record(Database.Tx tx, VmRecord vm, List<PortForward> forwards) throws SQLException {
    Map<Integer, Integer> hostPortByGuestPort = new HashMap<>();
    forwards.forEach(f -> hostPortByGuestPort.put(f.getGuestPort(), f.getHostPort()));
    ServiceDefinitionRecord def = catalog.find(tx, vm.definition()).orElse(null);
    if (def == null) {
      return; // the definition was removed; the VM offers nothing new
    }
    List<VmServiceRecord> offers = new ArrayList<>();
    for (ServiceDefinitionRecord.ServicePort port : def.services()) {
      offers.add(
          new VmServiceRecord(vm.id(), port.name(), port.guestPort(),
              hostPortByGuestPort.get(port.guestPort())));
    }
    vms.setOffers(tx, vm.id(), offers);
  }

  /** An archived VM still offers its services (a request restores it) but has no host port. */
  public void clearHostPorts(Database.Tx tx, UUID vmId) throws SQLException {
    vms.clearHostPorts(tx, vmId);
  }
}
