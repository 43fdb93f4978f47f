package org.servicefarm.controller.hosts;

import java.util.List;
import java.util.UUID;
import org.servicefarm.api.v1.LoadReport;
import org.servicefarm.api.v1.Register;

/** What the controller does when hosts come, report and go. */
public interface HostEvents {
  /** Records the registration and reconciles the inventory; returns VMs to drive. */
  List<UUID> registered(Register register);

  /** Records a load report; returns VMs whose state changed. */
  List<UUID> reported(String hostId, LoadReport report);

  void vmsChanged(List<UUID> vmIds);
}
